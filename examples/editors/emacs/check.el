;;; check.el --- buildg-dap.el driven by dap-mode in batch Emacs, against a real buildkitd -*- lexical-binding: t -*-

;; emacs --batch -l check.el, with BUILDG_DAP_BUILDER (a buildkitd address),
;; BUILDG_DAP_DOCKERFILE (the seed Dockerfile, examples/seed/Dockerfile or a copy) and
;; optionally BUILDG_DAP_CACHE (a registry cache of it) and BUILDG_DAP_COMMAND (the
;; adapter's command line, default "buildg-dap dap"). Does what a user does: breakpoint
;; on line 5, dap-debug with the template, read the Step scope, `exec cat /hi' in the
;; REPL's way (an evaluate request with context "repl"), continue to the end.

;;; Code:

(package-initialize)
(load (expand-file-name "check-common.el" (file-name-directory load-file-name)))
(setq dap-breakpoints-file (make-temp-file "buildg-dap-breakpoints"))
(load (expand-file-name "buildg-dap.el" (file-name-directory load-file-name)))

(setq buildg-dap-builder (check--env "BUILDG_DAP_BUILDER"))
(setq buildg-dap-command (split-string (check--env "BUILDG_DAP_COMMAND" "buildg-dap dap")))

(defvar check--ended nil)
(add-hook 'dap-terminated-hook (lambda (_session) (setq check--ended t)))

(find-file (check--env "BUILDG_DAP_DOCKERFILE"))
(goto-char (point-min))
(forward-line 4)
(dap-breakpoint-add)

(let ((template (copy-tree (cdr (assoc "buildg-dap: Debug Dockerfile" dap-debug-template-configurations)))))
  (when (getenv "BUILDG_DAP_CACHE")
    (setq template (plist-put template :cacheFrom (vector (getenv "BUILDG_DAP_CACHE")))))
  (dap-debug template))

(let ((session (dap--cur-session)))
  (check--wait "the stop at line 5" 180
               (lambda () (dap--debug-session-active-frame session)))
  (let* ((frame (dap--debug-session-active-frame session))
         (scopes (gethash "scopes" (dap-request session "scopes" :frameId (gethash "id" frame))))
         (step (seq-find (lambda (s) (equal (gethash "name" s) "Step")) scopes))
         (variables (gethash "variables" (dap-request session "variables"
                                                      :variablesReference (gethash "variablesReference" step)))))
    (message "stopped at %s line %s" (gethash "name" frame) (gethash "line" frame))
    (unless (= (gethash "line" frame) 5) (error "Stopped at line %s, not 5" (gethash "line" frame)))
    (seq-doseq (v variables)
      (message "  %s = %s" (gethash "name" v) (gethash "value" v)))
    (let* ((answer (dap-request session "evaluate" :expression "exec cat /hi"
                                :frameId (gethash "id" frame) :context "repl"))
           (out (get-buffer (concat "*" (dap--debug-session-name session) " out*"))))
      (check--wait "the exec output" 30
                   (lambda () (with-current-buffer out (string-match-p "^hi$" (buffer-string)))))
      (message "exec cat /hi: %s, output %S" (gethash "result" answer)
               (with-current-buffer out (buffer-string))))
    (dap-continue session (dap--debug-session-thread-id session))
    (check--wait "the end of the build" 180 (lambda () check--ended))
    (message "build ended: OK")))

(kill-emacs 0)
;;; check.el ends here
