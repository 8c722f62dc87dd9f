;;; buildg-dap-lsp.el --- buildg-dap's Dockerfile language server for lsp-mode and eglot -*- lexical-binding: t -*-

;; Registers `buildg-dap lsp' (BuildKit's checks as diagnostics, the stages as document
;; symbols, $VAR values on hover, "Debug stage" / "Debug to here" code lenses) with
;; lsp-mode and with eglot, whichever is loaded. Load it from your init file:
;;   (load "/path/to/buildg-dap-lsp.el")
;; With lsp-mode: M-x lsp in a Dockerfile (dockerfile-mode, or any buffer of a file named
;; Dockerfile, *.Dockerfile, Dockerfile.* or Containerfile); (setq lsp-lens-enable t) shows
;; the lenses, which run dap-mode with buildg-dap.el. With eglot: M-x eglot in a
;; dockerfile-mode buffer (eglot shows no lenses: use M-x buildg-dap-lsp-debug-to-here).

;;; Code:

(require 'cl-lib)
(require 'subr-x)

(defvar lsp-language-id-configuration)
(defvar eglot-server-programs)
(declare-function lsp--uri-to-path "lsp-mode")
(declare-function lsp-stdio-connection "lsp-mode")
(declare-function make-lsp-client "lsp-mode")
(declare-function lsp-register-client "lsp-mode")
(declare-function dap-debug "dap-mode")
(declare-function dap-breakpoint-add "dap-mode")
(declare-function dap-breakpoint-delete "dap-mode")
(declare-function dap--get-breakpoints "dap-mode")
(declare-function dap--get-breakpoint-at-point "dap-mode")

(defgroup buildg-dap-lsp nil
  "The Dockerfile language server of buildg-dap."
  :group 'tools)

(defcustom buildg-dap-lsp-command '("buildg-dap" "lsp")
  "How to start the language server: buildg-dap's `lsp' command on stdio.
With a virtualenv instead: (\"/path/to/venv/bin/python\" \"-m\" \"buildg_dap\" \"lsp\")."
  :type '(repeat string)
  :group 'buildg-dap-lsp)

(defcustom buildg-dap-lsp-builder nil
  "The buildkitd to ask (`--addr'), also the :builder of the lenses' launches.
nil: BUILDKIT_HOST, else the builder buildg-dap starts itself."
  :type '(choice (const nil) string)
  :group 'buildg-dap-lsp)

(defcustom buildg-dap-lsp-build-args nil
  "Build args for the checks and hover values, as ((\"NAME\" . \"value\") ...).
Also given to the lenses' launches."
  :type '(alist :key-type string :value-type string)
  :group 'buildg-dap-lsp)

(defcustom buildg-dap-lsp-target nil
  "The target stage for the checks and hover values, and of \"Debug to here\"."
  :type '(choice (const nil) string)
  :group 'buildg-dap-lsp)

(defcustom buildg-dap-lsp-launch nil
  "More fields for the lenses' launches (the main README's table), as a plist.
E.g. (:cacheFrom [\"registry.example.com/app:buildcache\"])."
  :type 'plist
  :group 'buildg-dap-lsp)

(defconst buildg-dap-lsp-file-regexp
  "\\(?:\\`\\|/\\)\\(?:[Dd]ockerfile\\(?:\\.[^/]*\\)?\\|[^/]+\\.[Dd]ockerfile\\|Containerfile\\)\\'"
  "File names that are Dockerfiles whatever their major mode.")

(defun buildg-dap-lsp--command ()
  (append buildg-dap-lsp-command
          (when buildg-dap-lsp-builder (list "--addr" buildg-dap-lsp-builder))))

(defun buildg-dap-lsp--build-args ()
  "The build args as a JSON object (a hash table: string keys)."
  (let ((object (make-hash-table :test 'equal)))
    (pcase-dolist (`(,name . ,value) buildg-dap-lsp-build-args)
      (puthash name value object))
    object))

(defun buildg-dap-lsp--initialization-options (&rest _)
  (list :buildArgs (buildg-dap-lsp--build-args) :target (or buildg-dap-lsp-target "")))

;;; The lenses' commands, also commands of their own (eglot has no lenses).

(defun buildg-dap-lsp--dap (what)
  "Signal a `user-error' unless dap-mode and buildg-dap.el are loaded, for WHAT."
  (unless (and (require 'dap-mode nil t) (featurep 'buildg-dap))
    (user-error "buildg-dap: \"%s\" needs dap-mode and buildg-dap.el (load it after dap-mode)"
                what)))

(defun buildg-dap-lsp--launch (name file)
  "A launch configuration called NAME for the Dockerfile FILE."
  (append (list :type "buildg-dap" :request "launch" :name name
                ;; Absolute, so it stays this file whatever :contextPath says.
                :dockerfile (expand-file-name file))
          (when buildg-dap-lsp-builder (list :builder buildg-dap-lsp-builder))
          (when buildg-dap-lsp-build-args (list :buildArgs (buildg-dap-lsp--build-args)))
          (copy-sequence buildg-dap-lsp-launch)))

(defun buildg-dap-lsp-debug-to-here (file line)
  "Debug the Dockerfile FILE up to its 1-based LINE (interactively, point's line).
A breakpoint there that was not already yours goes when the session ends."
  (interactive (list (buffer-file-name) (line-number-at-pos)))
  (buildg-dap-lsp--dap "Debug to here")
  (with-current-buffer (find-file-noselect file)
    (save-excursion
      (goto-char (point-min))
      (forward-line (1- line))
      (let* ((breakpoints (lambda () (gethash buffer-file-name (dap--get-breakpoints))))
             (mine (dap--get-breakpoint-at-point (funcall breakpoints)))
             (launch (buildg-dap-lsp--launch
                      (format "Debug %s to line %d" (file-name-nondirectory file) line) file)))
        (unless mine
          (dap-breakpoint-add)
          (let ((added (dap--get-breakpoint-at-point (funcall breakpoints)))
                (path buffer-file-name))
            (setq launch (plist-put launch :cleanup-function
                                    (lambda (_session) (dap-breakpoint-delete added path))))))
        (when buildg-dap-lsp-target
          (setq launch (plist-put launch :target buildg-dap-lsp-target)))
        (dap-debug launch)))))

(defun buildg-dap-lsp-debug-stage (file target)
  "Debug the Dockerfile FILE built to the stage TARGET (\"\": the last stage)."
  (interactive (list (buffer-file-name) (read-string "Stage (empty: the last): ")))
  (buildg-dap-lsp--dap "Debug stage")
  (let ((launch (buildg-dap-lsp--launch
                 (if (string-empty-p target)
                     (format "Debug %s" (file-name-nondirectory file))
                   (format "Debug stage %s" target))
                 file)))
    (unless (string-empty-p target)
      (setq launch (plist-put launch :target target)))
    (dap-debug launch)))

;;; lsp-mode

(defun buildg-dap-lsp--activate-p (file-name mode)
  (or (provided-mode-derived-p mode 'dockerfile-mode)
      (and file-name (string-match-p buildg-dap-lsp-file-regexp file-name))))

(defun buildg-dap-lsp--lens-arguments (command)
  "The arguments of a lens's COMMAND: a hash table, or a plist (`lsp-use-plists')."
  (append (if (hash-table-p command)
              (gethash "arguments" command)
            (plist-get command :arguments))
          nil))

(with-eval-after-load 'lsp-mode
  (add-to-list 'lsp-language-id-configuration
               (cons buildg-dap-lsp-file-regexp "dockerfile"))
  (lsp-register-client
   (make-lsp-client
    :new-connection (lsp-stdio-connection #'buildg-dap-lsp--command)
    :activation-fn #'buildg-dap-lsp--activate-p
    :major-modes '(dockerfile-mode)
    :server-id 'buildg-dap
    ;; Beside another Dockerfile server (lsp-mode's dockerfile-ls) when there is one.
    :add-on? t
    :initialization-options #'buildg-dap-lsp--initialization-options
    :action-handlers
    (let ((handlers (make-hash-table :test 'equal)))
      ;; Arguments: the document's uri and the stage ("" for the last, unnamed one).
      (puthash "buildg-dap.debugStage"
               (lambda (command)
                 (pcase-let ((`(,uri ,target) (buildg-dap-lsp--lens-arguments command)))
                   (buildg-dap-lsp-debug-stage (lsp--uri-to-path uri) target)))
               handlers)
      ;; Arguments: the document's uri and the step's 0-based line.
      (puthash "buildg-dap.debugToHere"
               (lambda (command)
                 (pcase-let ((`(,uri ,line) (buildg-dap-lsp--lens-arguments command)))
                   (buildg-dap-lsp-debug-to-here (lsp--uri-to-path uri) (1+ line))))
               handlers)
      handlers))))

;;; eglot (its server programs are keyed by major mode: dockerfile-mode)

(defun buildg-dap-lsp--eglot-contact (&rest _)
  (append (buildg-dap-lsp--command)
          (list :initializationOptions #'buildg-dap-lsp--initialization-options)))

(with-eval-after-load 'eglot
  (add-to-list 'eglot-server-programs '(dockerfile-mode . buildg-dap-lsp--eglot-contact)))

(provide 'buildg-dap-lsp)
;;; buildg-dap-lsp.el ends here
