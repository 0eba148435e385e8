-- Rewritten addresses stay as they are: their ASCII form is one the previous
-- version accepts and delivers to.
DELETE FROM settings WHERE key = 'rewrite_email_forms';
