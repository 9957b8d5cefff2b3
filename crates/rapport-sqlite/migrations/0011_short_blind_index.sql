-- rapport schema, version 11: blind indexes in their short binary form.
--
-- With field encryption on, the `email`/`phone` columns (and `unclaimed_email`/
-- `unclaimed_phone`) held keyed blind indexes as 64 lowercase hexadecimal characters
-- (HMAC-SHA256). From this version they hold the first 128 bits of the same digest as a
-- 16-byte BLOB: the unique contact indexes shrink to about half their size, and an import
-- inserting random digests dirties half the index pages per batch. The conversion needs no
-- key: the new value is the first 32 hexadecimal digits of the old one, unhexed. A plain
-- contact is never 64 hexadecimal digits (an email holds '@', a phone starts with '+'), so
-- plain rows are left as they are. Lookups and uniqueness use the new form only.

UPDATE rapport_customers SET email = unhex(substr(email, 1, 32))
 WHERE typeof(email) = 'text' AND length(email) = 64 AND email NOT GLOB '*[^0-9a-f]*';
UPDATE rapport_customers SET phone = unhex(substr(phone, 1, 32))
 WHERE typeof(phone) = 'text' AND length(phone) = 64 AND phone NOT GLOB '*[^0-9a-f]*';
UPDATE rapport_customers SET unclaimed_email = unhex(substr(unclaimed_email, 1, 32))
 WHERE typeof(unclaimed_email) = 'text' AND length(unclaimed_email) = 64
   AND unclaimed_email NOT GLOB '*[^0-9a-f]*';
UPDATE rapport_customers SET unclaimed_phone = unhex(substr(unclaimed_phone, 1, 32))
 WHERE typeof(unclaimed_phone) = 'text' AND length(unclaimed_phone) = 64
   AND unclaimed_phone NOT GLOB '*[^0-9a-f]*';
