DROP TABLE account_tokens;
DROP TABLE recovery_codes;
ALTER TABLE email_confirmations DROP COLUMN new_email;
ALTER TABLE users DROP COLUMN totp_last_step;
ALTER TABLE users DROP COLUMN totp_enabled;
ALTER TABLE users DROP COLUMN totp_secret;
ALTER TABLE users DROP COLUMN pending_email;
