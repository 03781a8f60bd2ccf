package oip

// skim finds the data array of every input ("inputs"[i]."data" of the top
// object) by bracket matching, without parsing its numbers, and returns
// the request with each such array replaced by null, and the arrays by
// input index (spans[i] nil where input i has no data array).
// The rest (names, shapes, parameters) is small and is left to
// encoding/json; the arrays are parsed by fillJSON once the request has
// been checked. Text that is not JSON is passed on as it is, for
// encoding/json to refuse. skim allocates the skeleton (the request
// without its data) and the span headers, never a copy of the data.
func skim(head []byte) (skeleton []byte, spans [][]byte) {
	type level struct {
		array bool
		key   string
	}
	var stack []level
	lastKey := ""
	input := -1
	out := make([]byte, 0, 4096)
	from := 0 // head[from:i] is still to be copied to out
	for i := 0; i < len(head); i++ {
		switch c := head[i]; c {
		case '"':
			end := skipString(head, i)
			j := end
			for j < len(head) && isSpace(head[j]) {
				j++
			}
			if j < len(head) && head[j] == ':' && end-i <= 64 {
				lastKey = string(head[i+1 : end-1])
			}
			i = end - 1
		case '{', '[':
			if c == '[' && lastKey == "data" && len(stack) == 3 && !stack[2].array &&
				stack[1].array && stack[1].key == "inputs" && !stack[0].array {
				end := skipArray(head, i)
				out = append(out, head[from:i]...)
				out = append(out, "null"...)
				for len(spans) <= input {
					spans = append(spans, nil)
				}
				spans[input] = head[i:end]
				from = end
				i = end - 1
				lastKey = ""
				continue
			}
			if c == '{' && len(stack) == 2 && stack[1].array && stack[1].key == "inputs" && !stack[0].array {
				input++
			}
			stack = append(stack, level{array: c == '[', key: lastKey})
			lastKey = ""
		case '}', ']':
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
			lastKey = ""
		case ',':
			lastKey = ""
		}
	}
	return append(out, head[from:]...), spans
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// skipString returns the index after the string that starts at b[i] ==
// '"' (len(b) if it does not end).
func skipString(b []byte, i int) int {
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
	return len(b)
}

// skipArray returns the index after the array that starts at b[i] == '['
// (len(b) if it does not end), counting brackets outside strings.
func skipArray(b []byte, i int) int {
	depth := 0
	for j := i; j < len(b); j++ {
		switch b[j] {
		case '"':
			j = skipString(b, j) - 1
		case '[', '{':
			depth++
		case ']', '}':
			depth--
			if depth == 0 {
				return j + 1
			}
		}
	}
	return len(b)
}
