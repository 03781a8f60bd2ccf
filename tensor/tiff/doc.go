// Package tiff reads and writes TIFF files as microscopy uses them, in pure
// Go, to and from tensor.Tensor.
//
// # Reading
//
// Read accepts classic TIFF and BigTIFF, little- and big-endian, with
// 8/16/32-bit unsigned or signed integer samples (SampleFormat 1 and 2) or
// 32/64-bit IEEE floats (SampleFormat 3); one or more samples per pixel,
// stored chunky (PlanarConfiguration 1) or planar (2); strips or tiles;
// compressed with none (1), LZW (5), Deflate (8, 32946) or PackBits (32773),
// with or without the horizontal (2) or floating-point (3) predictor.
//
// Sample values are returned as stored: Photometric (WhiteIsZero, palette
// indices, RGB, extra samples such as alpha) does not change them, and every
// sample becomes a channel. YCbCr files are not supported.
//
// Every page (IFD) of the same geometry (width, height, samples per pixel,
// bits per sample, sample format) becomes one tensor. Reduced-resolution
// pages (NewSubfileType bit 0, thumbnails) are skipped. When the remaining
// pages differ in geometry, Read returns the first page alone; ReadWith with
// ReadOptions.AllPages returns an error naming the first page that differs.
//
// The returned tensor is always little-endian C order with samples
// interleaved (planar files are interleaved on reading), and its Axes are:
//
//   - ImageJ hyperstacks (ImageDescription "ImageJ=…" with images, channels,
//     slices, frames): ImageJ's page order time, z, channel followed by y, x,
//     with the dimensions of size 1 dropped (y and x are always kept);
//   - tifffile's shaped description ({"shape": […], "axes": "TZCYX"}), when
//     it agrees with the pages: its axes with T, Z, C/S, Y, X named time, z,
//     channel, y, x, dimensions of size 1 dropped;
//   - otherwise z, y, x for several pages and y, x for one page;
//   - in every case with a trailing channel axis when a pixel holds more
//     than one sample (y, x, channel; z, y, x, channel; …).
//
// ImageJ files larger than 4 GiB hold a single IFD followed by all images
// back to back; Read reads such files when the description's images count
// says so and the data is uncompressed.
//
// # Writing
//
// Write produces little-endian TIFF, one uncompressed (or, with
// WriteOptions, Deflate-compressed) strip per page and one sample per
// pixel: channels become pages. Tensors whose axes are among time, z,
// channel, y and x (in any order; other axes of size 1 are dropped) are
// written in ImageJ's page order with an ImageJ description, so Fiji opens
// them as hyperstacks; Read returns them in that order (a y, x, channel
// tensor comes back as channel, y, x). ImageJ supports only 8, 16 and
// 32-bit samples: ImageJ itself shows int8 as unsigned, int16 shifted by
// 32768 and int32/uint32 converted to 32-bit float (this package reads them
// back unchanged), and it cannot open float64 at all, so float64 tensors are
// written as plain TIFF (SampleFormat 3, 64 bits) with a tifffile-style
// shaped description that keeps their axes. Files over 4 GiB are written as
// BigTIFF, which Fiji opens through Bio-Formats.
//
// # Limits
//
// Read never trusts the header: it rejects images of more than
// tensor.MaxElements elements, more than MaxPages IFDs, IFDs of more than
// MaxEntries entries, IFD loops, offsets and byte counts outside the file,
// strips or tiles that decompress to more or fewer bytes than the geometry
// needs (decompression stops at the expected size), tile geometry that makes
// no sense, and images that a file of its size could not hold even at the
// compression method's best ratio. Every failure is a *zoo.Error: kind
// zoo.Invalid for a broken file, zoo.NotSupported for a valid feature this
// package does not read, zoo.TooLarge for a file over the limits.
package tiff
