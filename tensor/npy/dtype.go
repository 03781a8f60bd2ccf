package npy

import (
	"strings"

	"github.com/zoo-bioimage/zoo/tensor"
)

// typeCodes maps numpy's type code and size ("f4") to a dtype.
var typeCodes = map[string]tensor.DType{
	"b1": tensor.Bool, "?": tensor.Bool,
	"i1": tensor.Int8, "i2": tensor.Int16, "i4": tensor.Int32, "i8": tensor.Int64,
	"u1": tensor.Uint8, "u2": tensor.Uint16, "u4": tensor.Uint32, "u8": tensor.Uint64,
	"f2": tensor.Float16, "f4": tensor.Float32, "f8": tensor.Float64,
}

// unsupportedKinds names the numpy dtype kinds zoo does not read.
var unsupportedKinds = map[byte]string{
	'c': "complex numbers",
	'O': "Python objects (pickled; load them in Python and save a numeric array instead)",
	'S': "byte strings",
	'a': "byte strings",
	'U': "unicode strings",
	'V': "raw or structured records",
	'M': "datetimes",
	'm': "timedeltas",
}

const supportedList = "bool, int8…int64, uint8…uint64, float16, float32 and float64"

// parseDescr maps a numpy dtype string such as "<f4" or "|b1" to a dtype and
// whether its bytes are big-endian. The byte-order prefixes '|' and '=' and
// a missing prefix mean the writer's native order, which zoo takes to be
// little-endian (numpy itself always writes '<' or '>' for multi-byte types).
// numpy's dtype names ("float32") are accepted too.
func parseDescr(descr string) (dt tensor.DType, bigEndian bool, p *problem) {
	if d, err := tensor.ParseDType(descr); err == nil {
		return d, false, nil
	}
	code := descr
	if code != "" && strings.IndexByte("<>|=", code[0]) >= 0 {
		bigEndian = code[0] == '>'
		code = code[1:]
	}
	if d, ok := typeCodes[code]; ok {
		return d, bigEndian && d.Size() > 1, nil
	}
	if code != "" {
		if what, ok := unsupportedKinds[code[0]]; ok {
			return "", false, notSupported("dtype %q holds %s; zoo reads %s", descr, what, supportedList)
		}
		if code[0] == 'f' && (code == "f12" || code == "f16") {
			return "", false, notSupported("dtype %q is an extended-precision float; zoo reads %s", descr, supportedList)
		}
	}
	return "", false, invalid("descr %q is not a numpy dtype zoo knows; zoo reads %s", descr, supportedList)
}

// descrOf is the dtype string numpy writes for dt in little-endian order.
func descrOf(dt tensor.DType) string {
	switch dt {
	case tensor.Bool:
		return "|b1"
	case tensor.Int8:
		return "|i1"
	case tensor.Uint8:
		return "|u1"
	}
	for code, d := range typeCodes {
		if d == dt {
			return "<" + code
		}
	}
	return ""
}
