-- Addresses are kept with their domain in IDNA ASCII form, NFC-normalised
-- (API.md §1): `bob@exämple.org` is kept as `bob@xn--exmple-cua.org`. SQL
-- cannot write punycode, so this marks the addresses stored before for a
-- rewrite, which collabd does once, right after the migrations, removing the
-- mark in the same transaction (src/domain/emails.rs).
INSERT INTO settings (key, value) VALUES ('rewrite_email_forms', 'pending');
