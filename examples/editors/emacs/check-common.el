;;; check-common.el --- what the batch checks of this folder share -*- lexical-binding: t -*-

;;; Code:

(defun check--env (name &optional default)
  "The environment variable NAME, else DEFAULT; an error when neither is there."
  (or (getenv name) default (error "%s is not set" name)))

(defun check--wait (what seconds predicate)
  "Process output until PREDICATE holds; an error naming WHAT after SECONDS."
  (let ((deadline (+ (float-time) seconds)))
    (while (not (funcall predicate))
      (when (> (float-time) deadline)
        (error "Timed out after %ss waiting for %s" seconds what))
      (accept-process-output nil 0.05))))

(provide 'check-common)
;;; check-common.el ends here
