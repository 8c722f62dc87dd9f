;;; check-lsp.el --- buildg-dap-lsp.el driven by lsp-mode in batch Emacs, against a real buildkitd -*- lexical-binding: t -*-

;; emacs --batch -l check-lsp.el, with BUILDG_DAP_BUILDER (a buildkitd address) and
;; optionally BUILDG_DAP_LSP_COMMAND (the server's command line, default "buildg-dap lsp").
;; Opens a Dockerfile it writes to a temporary folder (in fundamental-mode unless
;; dockerfile-mode is installed: the file name is what activates the server then) and
;; checks what lsp-mode gets: BuildKit's FromAsCasing and MaintainerDeprecated as
;; diagnostics, the lenses lsp-lens-mode shows ("Debug to here" on each step line, "Debug
;; stage" on both stages), the stages as document symbols, a hover value. Then it clicks
;; "Debug to here" on line 4: with dap-mode installed (and BUILDG_DAP_COMMAND, the adapter's
;; command line, default "buildg-dap dap") the session must stop there and the lens's
;; breakpoint go when the build ends, then "Debug stage base" must build that target;
;; without dap-mode (or with BUILDG_DAP_WITHOUT_DAP_MODE set, which keeps it from loading)
;; it must say that dap-mode is needed.

;;; Code:

(package-initialize)
(load (expand-file-name "check-common.el" (file-name-directory load-file-name)))
(when (getenv "BUILDG_DAP_WITHOUT_DAP_MODE")
  ;; As if dap-mode were not installed.
  (setq load-path (seq-remove (lambda (dir) (string-match-p "/dap-mode-[^/]*/?\\'" dir)) load-path)))
(require 'lsp-mode)
(require 'lsp-lens)
(load (expand-file-name "buildg-dap-lsp.el" (file-name-directory load-file-name)))

(defun check--lens-lines ()
  "Line (1-based) -> the titles lsp-lens-mode shows there."
  (let (lines)
    (dolist (ov lsp-lens--overlays (sort lines (lambda (a b) (< (car a) (car b)))))
      (when (overlay-buffer ov)
        (push (cons (line-number-at-pos (overlay-get ov 'lsp-lens-position))
                    (mapcar #'substring-no-properties (overlay-get ov 'lsp--metadata)))
              lines)))))

(defun check--click-lens (line title)
  "Run the lens TITLE on LINE as a click on it does."
  (let* ((ov (seq-find (lambda (ov) (= (line-number-at-pos (overlay-get ov 'lsp-lens-position)) line))
                       lsp-lens--overlays))
         (label (seq-find (lambda (s) (equal (substring-no-properties s) title))
                          (overlay-get ov 'lsp--metadata))))
    (unless label (error "No lens %S on line %d" title line))
    (funcall (get-text-property 0 'action label))))

(setq lsp-session-file (expand-file-name "session" (make-temp-file "buildg-dap-lsp" t)))
(setq lsp-lens-enable t
      lsp-enable-file-watchers nil
      lsp-modeline-code-actions-enable nil
      lsp-headerline-breadcrumb-enable nil
      lsp-keep-workspace-alive nil
      ;; dap-ui's windows (treemacs) cannot be drawn in batch Emacs.
      lsp-enable-dap-auto-configure nil)
(setq buildg-dap-lsp-command (split-string (check--env "BUILDG_DAP_LSP_COMMAND" "buildg-dap lsp")))
(setq buildg-dap-lsp-builder (check--env "BUILDG_DAP_BUILDER"))

(defconst check--dockerfile "\
FROM busybox as base
MAINTAINER x
ARG GREETING=hi
RUN echo \"$GREETING\" > /hi

FROM busybox AS final
WORKDIR /src
COPY --from=base /hi /src/hi
")

(let* ((dir (make-temp-file "buildg-dap-lsp" t))
       (file (expand-file-name "Dockerfile" dir)))
  (with-temp-file file (insert check--dockerfile))
  (lsp-workspace-folders-add dir)
  (find-file file)
  (message "major mode: %s" major-mode)
  (lsp)
  (check--wait "the server to start" 30
               (lambda () (seq-find (lambda (w) (eq (lsp--workspace-status w) 'initialized))
                                    (lsp-workspaces))))
  (message "server: %s" (mapcar #'lsp--workspace-print (lsp-workspaces)))

  ;; Diagnostics, as lsp-mode stores them for flycheck/flymake.
  (let (codes)
    (check--wait "the diagnostics" 60
                 (lambda ()
                   (setq codes (mapcar (lambda (d) (cons (lsp-get d :code) d))
                                       (gethash file (lsp-diagnostics t))))
                   (and (assoc "FromAsCasing" codes) (assoc "MaintainerDeprecated" codes))))
    (pcase-dolist (`(,code . ,d) codes)
      (message "diagnostic line %d: %s %s: %s"
               (1+ (lsp-get (lsp-get (lsp-get d :range) :start) :line))
               (lsp-get d :source) code (lsp-get d :message)))
    (pcase-dolist (`(,code ,line) '(("FromAsCasing" 0) ("MaintainerDeprecated" 1)))
      (let ((d (cdr (assoc code codes))))
        (unless (and (equal (lsp-get d :source) "buildkit")
                     (= (lsp-get (lsp-get (lsp-get d :range) :start) :line) line))
          (error "%s: %S" code d)))))

  ;; Lenses, as lsp-lens-mode shows them.
  (check--wait "the lenses" 30 (lambda () (check--lens-lines)))
  (let ((lines (check--lens-lines)))
    (pcase-dolist (`(,line . ,titles) lines)
      (message "lens line %d: %s" line (string-join titles " | ")))
    (unless (equal (mapcar #'car (seq-filter (lambda (l) (member "Debug to here" (cdr l))) lines))
                   '(1 4 6 7 8))
      (error "\"Debug to here\" lenses: %S" lines))
    (unless (and (member "Debug stage base" (cdr (assq 1 lines)))
                 (member "Debug stage final" (cdr (assq 6 lines))))
      (error "\"Debug stage\" lenses: %S" lines)))

  ;; Document symbols: the stages with their instructions.
  (let ((symbols (lsp-request "textDocument/documentSymbol"
                              (list :textDocument (lsp--text-document-identifier))))
        outline)
    (seq-doseq (s symbols)
      (let ((children (seq-map (lambda (c) (lsp-get c :name)) (lsp-get s :children))))
        (message "symbol %s (%s): %s" (lsp-get s :name) (lsp-get s :detail)
                 (string-join children ", "))
        (push (cons (lsp-get s :name) children) outline)))
    (unless (equal (cdr (assoc "base" outline))
                   '("MAINTAINER x" "ARG GREETING=hi" "RUN echo \"$GREETING\" > /hi"))
      (error "Stage base: %S" outline))
    (unless (= (length (cdr (assoc "final" outline))) 2)
      (error "Stage final: %S" outline)))

  ;; Hover on $GREETING.
  (let* ((hover (lsp-request "textDocument/hover"
                             (list :textDocument (lsp--text-document-identifier)
                                   :position (list :line 3 :character 12))))
         (value (lsp-get (lsp-get hover :contents) :value)))
    (message "hover on $GREETING: %s" (car (split-string value "\n")))
    (unless (string-prefix-p "`GREETING` = `hi`" value) (error "Hover: %S" value)))

  ;; "Debug to here" on the RUN line.
  (if (not (require 'dap-mode nil t))
      (let ((answer (condition-case err
                        (progn (check--click-lens 4 "Debug to here") "(nothing)")
                      (user-error (error-message-string err)))))
        (message "Debug to here without dap-mode: %s" answer)
        (unless (string-match-p "needs dap-mode" answer) (error "No word of dap-mode")))
    (setq dap-breakpoints-file (make-temp-file "buildg-dap-breakpoints"))
    (load (expand-file-name "buildg-dap.el" (file-name-directory load-file-name)))
    (setq buildg-dap-command (split-string (check--env "BUILDG_DAP_COMMAND" "buildg-dap dap")))
    (let ((ended nil)
          (breakpoint-lines
           (lambda ()
             (mapcar (lambda (bp) (line-number-at-pos (dap-breakpoint-get-point bp)))
                     (gethash file (dap--get-breakpoints))))))
      (add-hook 'dap-terminated-hook (lambda (_session) (setq ended t)))
      (check--click-lens 4 "Debug to here")
      (unless (equal (funcall breakpoint-lines) '(4))
        (error "Breakpoints: %S" (funcall breakpoint-lines)))
      (let ((session (dap--cur-session)))
        (check--wait "the stop at line 4" 180
                     (lambda () (dap--debug-session-active-frame session)))
        (let ((frame (dap--debug-session-active-frame session)))
          (message "Debug to here: %s, stopped at %s line %s" (dap--debug-session-name session)
                   (gethash "name" frame) (gethash "line" frame))
          (unless (= (gethash "line" frame) 4) (error "Stopped at line %s" (gethash "line" frame))))
        (dap-continue session (dap--debug-session-thread-id session))
        (check--wait "the end of the build" 180 (lambda () ended))
        (when (funcall breakpoint-lines)
          (error "The lens's breakpoint stayed: %S" (funcall breakpoint-lines)))
        (message "build ended, the lens breakpoint removed"))
      ;; "Debug stage base" on line 1.
      (setq ended nil)
      (check--click-lens 1 "Debug stage base")
      (let ((session (dap--cur-session)))
        (check--wait "the stage build to end" 180 (lambda () ended))
        (let ((launch (dap--debug-session-launch-args session)))
          (message "Debug stage: %s, target %s, build ended"
                   (plist-get launch :name) (plist-get launch :target))
          (unless (equal (plist-get launch :target) "base") (error "Launched %S" launch))))))
  (message "check-lsp: OK"))

(kill-emacs 0)
;;; check-lsp.el ends here
