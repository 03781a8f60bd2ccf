package torch

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math/big"
	"strconv"
)

// storageRef is one tensor storage a TorchScript pickle (data.pkl,
// constants.pkl) refers to: the persistent id ('storage', torch.XStorage,
// key, location, numel) that libtorch resolves to the zip record
// <folder>/<key>.
type storageRef struct {
	Key      string
	Type     string // e.g. "FloatStorage"
	Elements int64
}

// itemSize is the element size of the storage types torch writes; 0 for
// one this package does not know (its size is not checked).
func itemSize(typ string) int64 {
	switch typ {
	case "DoubleStorage", "LongStorage", "ComplexFloatStorage":
		return 8
	case "FloatStorage", "IntStorage", "QInt32Storage":
		return 4
	case "HalfStorage", "BFloat16Storage", "ShortStorage":
		return 2
	case "CharStorage", "ByteStorage", "BoolStorage", "QInt8Storage", "QUInt8Storage", "QUInt4x2Storage", "QUInt2x4Storage", "UntypedStorage":
		return 1
	case "ComplexDoubleStorage":
		return 16
	}
	return 0
}

// Limits of storageRefs, so that a hostile pickle cannot make it allocate
// without bound.
const (
	maxPickle    = 256 << 20
	maxStack     = 1 << 20
	maxMemo      = 1 << 22
	maxString    = 1 << 20
	maxStorageID = 1 << 20
)

var errUnknownPickle = errors.New("unsupported pickle opcode")

// pv is a value on the pickle machine's stack: only strings, integers,
// globals and tuples are kept; everything else is other.
type pv any

type pmark struct{}
type pother struct{}
type pglobal struct{ module, name string }

// storageRefs walks a pickle (protocol ≤ 5) without executing it and
// returns the storage persistent ids it contains. An opcode it does not
// know returns errUnknownPickle (the caller then leaves the check to
// libtorch); a malformed or truncated pickle is an error.
func storageRefs(r io.Reader) ([]storageRef, error) {
	br := bufio.NewReader(io.LimitReader(r, maxPickle))
	var (
		stack []pv
		memo  = map[uint64]pv{}
		refs  []storageRef
	)
	push := func(v pv) error {
		if len(stack) >= maxStack {
			return errors.New("pickle stack too deep")
		}
		stack = append(stack, v)
		return nil
	}
	pop := func() (pv, error) {
		if len(stack) == 0 {
			return nil, errors.New("pickle stack underflow")
		}
		v := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		return v, nil
	}
	popMark := func() ([]pv, error) {
		for i := len(stack) - 1; i >= 0; i-- {
			if _, ok := stack[i].(pmark); ok {
				items := append([]pv(nil), stack[i+1:]...)
				stack = stack[:i]
				return items, nil
			}
		}
		return nil, errors.New("pickle mark not found")
	}
	read := func(n uint64) ([]byte, error) {
		if n > maxString {
			return nil, fmt.Errorf("pickle value of %d bytes", n)
		}
		b := make([]byte, n)
		_, err := io.ReadFull(br, b)
		return b, err
	}
	line := func() (string, error) {
		s, err := br.ReadString('\n')
		if err != nil {
			return "", err
		}
		if len(s) > maxString {
			return "", errors.New("pickle line too long")
		}
		return s[:len(s)-1], nil
	}
	uint := func(n int) (uint64, error) {
		b, err := read(uint64(n))
		if err != nil {
			return 0, err
		}
		var v uint64
		for i := n - 1; i >= 0; i-- {
			v = v<<8 | uint64(b[i])
		}
		return v, nil
	}
	memoPut := func(k uint64) error {
		if len(stack) == 0 {
			return errors.New("pickle memo of an empty stack")
		}
		if len(memo) >= maxMemo {
			return errors.New("pickle memo too large")
		}
		memo[k] = stack[len(stack)-1]
		return nil
	}
	memoGet := func(k uint64) error {
		v, ok := memo[k]
		if !ok {
			return fmt.Errorf("pickle memo %d not set", k)
		}
		return push(v)
	}
	for {
		op, err := br.ReadByte()
		if err != nil {
			return nil, fmt.Errorf("pickle ends without STOP: %w", err)
		}
		switch op {
		case 0x80: // PROTO
			_, err = br.ReadByte()
		case 0x95: // FRAME
			_, err = uint(8)
		case '.': // STOP
			return refs, nil
		case '(':
			err = push(pmark{})
		case '0':
			_, err = pop()
		case '1':
			_, err = popMark()
		case '2':
			if len(stack) == 0 {
				return nil, errors.New("pickle DUP of an empty stack")
			}
			err = push(stack[len(stack)-1])
		case 'c': // GLOBAL
			var mod, name string
			if mod, err = line(); err == nil {
				if name, err = line(); err == nil {
					err = push(pglobal{mod, name})
				}
			}
		case 0x93: // STACK_GLOBAL
			var name, mod pv
			if name, err = pop(); err == nil {
				if mod, err = pop(); err == nil {
					ms, _ := mod.(string)
					ns, _ := name.(string)
					err = push(pglobal{ms, ns})
				}
			}
		case 'X', 'T', 'B': // BINUNICODE, BINSTRING, BINBYTES
			err = pushBytes(uint, read, push, 4)
		case 0x8c, 'U', 'C': // SHORT_BINUNICODE, SHORT_BINSTRING, SHORT_BINBYTES
			err = pushBytes(uint, read, push, 1)
		case 0x8d, 0x8e, 0x96: // BINUNICODE8, BINBYTES8, BYTEARRAY8
			err = pushBytes(uint, read, push, 8)
		case 'V', 'S': // UNICODE, STRING (text; kept as other)
			if _, err = line(); err == nil {
				err = push(pother{})
			}
		case 'J': // BININT
			var v uint64
			if v, err = uint(4); err == nil {
				err = push(int64(int32(v)))
			}
		case 'K':
			var v uint64
			if v, err = uint(1); err == nil {
				err = push(int64(v))
			}
		case 'M':
			var v uint64
			if v, err = uint(2); err == nil {
				err = push(int64(v))
			}
		case 'I', 'L': // INT, LONG (text)
			var s string
			if s, err = line(); err == nil {
				v, perr := strconv.ParseInt(trimL(s), 10, 64)
				if perr != nil {
					err = push(pother{})
				} else {
					err = push(v)
				}
			}
		case 0x8a, 0x8b: // LONG1, LONG4
			n := 1
			if op == 0x8b {
				n = 4
			}
			var size uint64
			if size, err = uint(n); err == nil {
				var b []byte
				if b, err = read(size); err == nil {
					err = push(longValue(b))
				}
			}
		case 'G':
			_, err = read(8)
			if err == nil {
				err = push(pother{})
			}
		case 'F':
			if _, err = line(); err == nil {
				err = push(pother{})
			}
		case 'N', 0x88, 0x89, ')', ']', '}', 0x8f: // NONE, NEWTRUE, NEWFALSE, EMPTY_TUPLE, EMPTY_LIST, EMPTY_DICT, EMPTY_SET
			if op == ')' {
				err = push([]pv{})
			} else {
				err = push(pother{})
			}
		case 't':
			var items []pv
			if items, err = popMark(); err == nil {
				err = push(items)
			}
		case 0x85, 0x86, 0x87: // TUPLE1..3
			n := int(op-0x85) + 1
			if len(stack) < n {
				return nil, errors.New("pickle stack underflow")
			}
			items := append([]pv(nil), stack[len(stack)-n:]...)
			stack = stack[:len(stack)-n]
			err = push(items)
		case 'l', 'd', 0x91, 'o': // LIST, DICT, FROZENSET, OBJ
			if _, err = popMark(); err == nil {
				err = push(pother{})
			}
		case 'a', 'b': // APPEND, BUILD
			_, err = pop()
		case 'e', 'u', 0x90: // APPENDS, SETITEMS, ADDITEMS
			_, err = popMark()
		case 's': // SETITEM
			if _, err = pop(); err == nil {
				_, err = pop()
			}
		case 'R', 0x81: // REDUCE, NEWOBJ
			if _, err = pop(); err == nil {
				if _, err = pop(); err == nil {
					err = push(pother{})
				}
			}
		case 0x92: // NEWOBJ_EX
			for i := 0; i < 3 && err == nil; i++ {
				_, err = pop()
			}
			if err == nil {
				err = push(pother{})
			}
		case 'i': // INST
			if _, err = line(); err == nil {
				if _, err = line(); err == nil {
					if _, err = popMark(); err == nil {
						err = push(pother{})
					}
				}
			}
		case 'q':
			var k uint64
			if k, err = uint(1); err == nil {
				err = memoPut(k)
			}
		case 'r':
			var k uint64
			if k, err = uint(4); err == nil {
				err = memoPut(k)
			}
		case 'p':
			var s string
			if s, err = line(); err == nil {
				k, perr := strconv.ParseUint(s, 10, 64)
				if perr != nil {
					return nil, fmt.Errorf("pickle PUT %q", s)
				}
				err = memoPut(k)
			}
		case 0x94: // MEMOIZE
			err = memoPut(uint64(len(memo)))
		case 'h':
			var k uint64
			if k, err = uint(1); err == nil {
				err = memoGet(k)
			}
		case 'j':
			var k uint64
			if k, err = uint(4); err == nil {
				err = memoGet(k)
			}
		case 'g':
			var s string
			if s, err = line(); err == nil {
				k, perr := strconv.ParseUint(s, 10, 64)
				if perr != nil {
					return nil, fmt.Errorf("pickle GET %q", s)
				}
				err = memoGet(k)
			}
		case 'P': // PERSID
			if _, err = line(); err == nil {
				err = push(pother{})
			}
		case 'Q': // BINPERSID
			var pid pv
			if pid, err = pop(); err == nil {
				if ref, ok := asStorage(pid); ok {
					if len(refs) >= maxStorageID {
						return nil, errors.New("too many storages")
					}
					refs = append(refs, ref)
				}
				err = push(pother{})
			}
		case 0x82, 0x83, 0x84: // EXT1, EXT2, EXT4
			n := map[byte]int{0x82: 1, 0x83: 2, 0x84: 4}[op]
			if _, err = uint(n); err == nil {
				err = push(pother{})
			}
		default:
			return nil, fmt.Errorf("%w 0x%02x", errUnknownPickle, op)
		}
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return nil, errors.New("pickle is truncated")
			}
			return nil, err
		}
	}
}

// pushBytes reads a length of n bytes and that many bytes, and pushes them
// as a string.
func pushBytes(uint func(int) (uint64, error), read func(uint64) ([]byte, error), push func(pv) error, n int) error {
	size, err := uint(n)
	if err != nil {
		return err
	}
	b, err := read(size)
	if err != nil {
		return err
	}
	return push(string(b))
}

// trimL drops the L suffix of a protocol-0 long.
func trimL(s string) string {
	if len(s) > 0 && s[len(s)-1] == 'L' {
		return s[:len(s)-1]
	}
	return s
}

// longValue decodes a little-endian two's complement integer; values
// beyond int64 become other.
func longValue(b []byte) pv {
	if len(b) == 0 {
		return int64(0)
	}
	if len(b) <= 8 {
		var v int64
		for i := len(b) - 1; i >= 0; i-- {
			v = v<<8 | int64(b[i])
		}
		shift := 64 - 8*len(b)
		return v << shift >> shift
	}
	be := make([]byte, len(b))
	for i := range b {
		be[len(b)-1-i] = b[i]
	}
	x := new(big.Int).SetBytes(be)
	if b[len(b)-1]&0x80 != 0 {
		x.Sub(x, new(big.Int).Lsh(big.NewInt(1), uint(8*len(b))))
	}
	if x.IsInt64() {
		return x.Int64()
	}
	return pother{}
}

// asStorage recognises ('storage', torch.XStorage, key, location, numel).
func asStorage(pid pv) (storageRef, bool) {
	t, ok := pid.([]pv)
	if !ok || len(t) != 5 {
		return storageRef{}, false
	}
	if s, _ := t[0].(string); s != "storage" {
		return storageRef{}, false
	}
	g, ok := t[1].(pglobal)
	key, ok2 := t[2].(string)
	n, ok3 := t[4].(int64)
	if !ok || !ok2 || !ok3 || n < 0 {
		return storageRef{}, false
	}
	return storageRef{Key: key, Type: g.name, Elements: n}, true
}
