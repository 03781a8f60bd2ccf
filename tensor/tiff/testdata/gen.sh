#!/bin/sh
# Regenerates the TIFF test files with libtiff's tools (Debian package
# libtiff-tools). Run from this folder: sh gen.sh
set -eu
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go run ./gen "$tmp"
W=67 H=45
r() { raw2tiff -M -w $W -l $H "$@"; }
cd "$tmp"
r -d byte u8.raw u8.tif
r -d sbyte i8.raw i8.tif
r -d short u16.raw u16.tif
r -d sshort i16.raw i16.tif
r -d long u32.raw u32.tif
r -d slong i32.raw i32.tif
r -d float f32.raw f32.tif
r -d double f64.raw f64.tif
r -d byte -b 3 -p rgb rgb_u8.raw rgb_u8.tif
r -d short -b 3 -p rgb rgb_u16.raw rgb_u16.tif
r -d short u16_p1.raw u16_p1.tif
r -d short u16_p2.raw u16_p2.tif
cd "$OLDPWD"
c() { tiffcp "$@"; }
c -c lzw -r 8 "$tmp/u8.tif" u8_lzw.tif
c -c lzw:2 -r 8 "$tmp/u8.tif" u8_lzw_pred.tif
c -c packbits -r 16 "$tmp/i8.tif" i8_packbits.tif
c -B -c lzw:2 -r 8 "$tmp/u16.tif" u16_lzw_pred_be.tif
c -B -c packbits "$tmp/u16.tif" u16_packbits_be.tif
c -c zip -r 10 "$tmp/i16.tif" i16_zip.tif
c -c zip:2 "$tmp/i16.tif" i16_zip_pred.tif
c -c packbits "$tmp/u32.tif" u32_packbits.tif
c -c lzw:2 -r 7 "$tmp/i32.tif" i32_lzw_pred.tif
c -c lzw:3 -r 9 "$tmp/f32.tif" f32_lzw_fpred.tif
# Not -B with predictor 3: libtiff 4.5 on a little-endian machine swaps the
# bytes before splitting them into planes, so its big-endian files have the
# least significant plane first, against the spec (and tifffile).
c -c zip:3 -r 16 "$tmp/f32.tif" f32_zip_fpred.tif
c -c zip:3 "$tmp/f64.tif" f64_zip_fpred.tif
c -B -c none -r 5 "$tmp/f64.tif" f64_be.tif
c -t -w 16 -l 32 -c lzw:2 "$tmp/u16.tif" u16_tiled_lzw.tif
c -t -w 32 -l 16 -B -c none "$tmp/u8.tif" u8_tiled_be.tif
c -c lzw:2 -r 4 "$tmp/rgb_u8.tif" rgb_u8_chunky_lzw.tif
c -p separate -c zip:2 -r 20 "$tmp/rgb_u8.tif" rgb_u8_planar_zip.tif
c -p separate -t -w 16 -l 16 -c lzw:2 "$tmp/rgb_u8.tif" rgb_u8_planar_tiled_lzw.tif
c -t -w 32 -l 32 -c zip "$tmp/rgb_u16.tif" rgb_u16_chunky_tiled_zip.tif
c -8 -c lzw -r 16 "$tmp/u16.tif" u16_bigtiff_lzw.tif
c -8 -B -t -w 16 -l 16 -c packbits "$tmp/u16.tif" u16_bigtiff_tiled_be.tif
c -c lzw:2 "$tmp/u16.tif" "$tmp/u16_p1.tif" "$tmp/u16_p2.tif" stack_u16_lzw.tif
c -B -c none "$tmp/u16.tif" "$tmp/u16_p1.tif" "$tmp/u16_p2.tif" stack_u16_be.tif
c -c none "$tmp/u16.tif" "$tmp/rgb_u8.tif" "$tmp/u16_p1.tif" mixed.tif
# FillOrder 2 (bit-reversed bytes), raw2tiff's default.
raw2tiff -L -w $W -l $H -d short "$tmp/u16.raw" "$tmp/u16_lsb.tif"
c -c lzw:2 -r 16 "$tmp/u16_lsb.tif" u16_fill2_lzw.tif
c -c none "$tmp/u16_lsb.tif" u16_fill2.tif
