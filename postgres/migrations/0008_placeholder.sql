-- Placeholder for the migration another branch adds as 0008 (numbers run
-- without gaps); delete this file when that branch is merged.
SELECT 1;
