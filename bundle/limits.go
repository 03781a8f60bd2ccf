package bundle

// Limits bound what reading or building a package may cost. Packages come
// from strangers (uploads), so every quantity an attacker controls is
// bounded before it is trusted: the number of entries (memory for the
// directory, inodes when unpacked), the bytes each file and all files
// decompress to (disk and time), and how much an entry may expand (zip
// bombs). Zero fields take the value of DefaultLimits.
type Limits struct {
	// MaxFiles bounds the entries (files and folders) of a package. The
	// largest published packages hold a few dozen files.
	MaxFiles int
	// MaxFileSize bounds the bytes of one file after decompression. The
	// largest published weights are a few GB.
	MaxFileSize int64
	// MaxTotalSize bounds the bytes of all files after decompression: what
	// unpacking or storing a package may cost in disk space.
	MaxTotalSize int64
	// MaxRatio bounds uncompressed:compressed size of an entry larger than
	// RatioFloor. Model files (float weights, tensors) compress less than
	// 2:1 and text rarely beyond 20:1, while a zip bomb's entries expand
	// about 1000:1 (the most Deflate can do); the file size limits bound the
	// damage, this one refuses the attempt early and cheaply.
	MaxRatio float64
}

// RatioFloor is the uncompressed size up to which MaxRatio does not apply:
// small files that compress extremely well (an empty-ish document, a
// constant mask) are common and harmless.
const RatioFloor = 1 << 20

// DefaultLimits are far above any published package and far below what
// would hurt a server.
var DefaultLimits = Limits{
	MaxFiles:     10_000,
	MaxFileSize:  8 << 30,
	MaxTotalSize: 16 << 30,
	MaxRatio:     200,
}

// orDefault returns l with zero fields set from DefaultLimits.
func (l Limits) orDefault() Limits {
	if l.MaxFiles <= 0 {
		l.MaxFiles = DefaultLimits.MaxFiles
	}
	if l.MaxFileSize <= 0 {
		l.MaxFileSize = DefaultLimits.MaxFileSize
	}
	if l.MaxTotalSize <= 0 {
		l.MaxTotalSize = DefaultLimits.MaxTotalSize
	}
	if l.MaxRatio <= 0 {
		l.MaxRatio = DefaultLimits.MaxRatio
	}
	return l
}

// Bounds of names in a package: most file systems refuse longer path
// elements, and no real package needs longer paths.
const (
	maxNameLen    = 1024 // bytes of a path
	maxElementLen = 255  // bytes of one path element
)
