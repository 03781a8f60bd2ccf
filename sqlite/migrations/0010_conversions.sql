-- The weights zoo converted for a version (zoo.Conversion as JSON: status,
-- formats with their method and opset, the blobs of the converted files,
-- runnable description and package, provenance and the converter's
-- report). NULL: nothing to convert. The uploaded files stay in files.
ALTER TABLE versions ADD COLUMN conversion TEXT;
