;;; check-eglot.el --- buildg-dap-lsp.el driven by eglot in batch Emacs, against a real buildkitd -*- lexical-binding: t -*-

;; emacs --batch -l check-eglot.el, with BUILDG_DAP_BUILDER (a buildkitd address) and
;; optionally BUILDG_DAP_LSP_COMMAND (the server's command line, default "buildg-dap lsp").
;; Opens a Dockerfile it writes to a temporary folder in dockerfile-mode (a bare stand-in
;; when the dockerfile-mode package is not installed: eglot picks servers by major mode),
;; starts eglot as M-x eglot does, and checks BuildKit's FromAsCasing and
;; MaintainerDeprecated in flymake's diagnostics and the stages in imenu's index (eglot's
;; document symbols). eglot 1.9 has no code lenses.

;;; Code:

(package-initialize)
(load (expand-file-name "check-common.el" (file-name-directory load-file-name)))
(require 'eglot)
(load (expand-file-name "buildg-dap-lsp.el" (file-name-directory load-file-name)))

(unless (require 'dockerfile-mode nil t)
  (define-derived-mode dockerfile-mode prog-mode "Dockerfile"))

(setq buildg-dap-lsp-command (split-string (check--env "BUILDG_DAP_LSP_COMMAND" "buildg-dap lsp")))
(setq buildg-dap-lsp-builder (check--env "BUILDG_DAP_BUILDER"))

(defconst check--dockerfile "\
FROM busybox as base
MAINTAINER x
RUN echo hi > /hi

FROM busybox AS final
COPY --from=base /hi /hi
")

(let* ((dir (make-temp-file "buildg-dap-eglot" t))
       (file (expand-file-name "Dockerfile" dir)))
  (with-temp-file file (insert check--dockerfile))
  (find-file file)
  (dockerfile-mode)
  ;; What M-x eglot does, without its questions.
  (apply #'eglot (eglot--guess-contact))
  (check--wait "the server to start" 30 (lambda () (eglot-current-server)))
  (message "server: %s" (eglot--server-info (eglot-current-server)))

  ;; Diagnostics, as flymake holds them ("buildkit [Rule]: message").
  (let (texts)
    (check--wait "the diagnostics" 60
                 (lambda ()
                   (flymake-start)
                   (setq texts (mapcar (lambda (d)
                                         (cons (line-number-at-pos (flymake-diagnostic-beg d))
                                               (flymake-diagnostic-text d)))
                                       (flymake-diagnostics)))
                   (and (seq-find (lambda (d) (string-match-p "\\[FromAsCasing\\]" (cdr d))) texts)
                        (seq-find (lambda (d) (string-match-p "\\[MaintainerDeprecated\\]" (cdr d))) texts))))
    (pcase-dolist (`(,line . ,text) texts)
      (message "diagnostic line %d: %s" line text))
    (unless (and (assoc 1 texts) (string-prefix-p "buildkit [FromAsCasing]" (cdr (assoc 1 texts)))
                 (assoc 2 texts) (string-prefix-p "buildkit [MaintainerDeprecated]" (cdr (assoc 2 texts))))
      (error "Diagnostics: %S" texts)))

  ;; Document symbols, as imenu's index.
  (let ((index (funcall imenu-create-index-function)))
    (message "imenu: %S" index)
    ;; eglot groups the symbols by kind: the stages are classes.
    (unless (equal (mapcar #'car (cdr (assoc "Class" index))) '("base" "final"))
      (error "The stages are not in imenu: %S" index)))
  (eglot-shutdown (eglot-current-server))
  (message "check-eglot: OK"))

(kill-emacs 0)
;;; check-eglot.el ends here
