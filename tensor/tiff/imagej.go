package tiff

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// Axis names used in tensors read and written by this package.
const (
	AxisTime    = "time"
	AxisZ       = "z"
	AxisChannel = "channel"
	AxisY       = "y"
	AxisX       = "x"
)

// imagej is the part of an ImageJ ImageDescription that shapes the data:
// images = channels·slices·frames pages stored channel fastest, then slice,
// then frame (so the array is frames, slices, channels, y, x).
type imagej struct {
	images, channels, slices, frames int
}

// parseImageJ parses an ImageJ ImageDescription ("ImageJ=1.x\nimages=…\n…").
// ok is false when desc is not one, or its counts are not consistent.
func parseImageJ(desc string) (m imagej, ok bool) {
	if !strings.HasPrefix(desc, "ImageJ=") {
		return m, false
	}
	m = imagej{images: -1, channels: 1, slices: 1, frames: 1}
	for line := range strings.SplitSeq(desc, "\n") {
		key, val, found := strings.Cut(strings.TrimSpace(line), "=")
		if !found {
			continue
		}
		n, err := strconv.Atoi(val)
		if err != nil {
			continue
		}
		switch key {
		case "images":
			m.images = n
		case "channels":
			m.channels = n
		case "slices":
			m.slices = n
		case "frames":
			m.frames = n
		}
	}
	if m.channels < 1 || m.slices < 1 || m.frames < 1 {
		return m, false
	}
	prod := m.channels
	for _, v := range []int{m.slices, m.frames} {
		if prod > (1<<40)/v {
			return m, false
		}
		prod *= v
	}
	switch {
	case m.images < 0:
		m.images = prod
	case m.images > 1 && prod == 1:
		m.slices = m.images // a plain stack
	}
	return m, m.images >= 1 && m.images == m.channels*m.slices*m.frames
}

// axes returns the tensor shape and axis names of an ImageJ stack of the
// given page geometry, dropping dimensions of size 1 except y and x.
func (m imagej) axes(g geometry) ([]int, []string) {
	var shape []int
	var names []string
	for _, d := range []struct {
		n    int
		name string
	}{{m.frames, AxisTime}, {m.slices, AxisZ}, {m.channels, AxisChannel}} {
		if d.n > 1 {
			shape, names = append(shape, d.n), append(names, d.name)
		}
	}
	return appendYX(shape, names, g)
}

// appendYX appends y, x and, for several samples per pixel, channel.
func appendYX(shape []int, names []string, g geometry) ([]int, []string) {
	shape, names = append(shape, g.height, g.width), append(names, AxisY, AxisX)
	if g.spp > 1 {
		shape, names = append(shape, g.spp), append(names, AxisChannel)
	}
	return shape, names
}

// description returns the ImageJ ImageDescription for m.
func (m imagej) description() string {
	var b strings.Builder
	b.WriteString("ImageJ=1.11a\n")
	fmt.Fprintf(&b, "images=%d\n", m.images)
	if m.channels > 1 {
		fmt.Fprintf(&b, "channels=%d\n", m.channels)
	}
	if m.slices > 1 {
		fmt.Fprintf(&b, "slices=%d\n", m.slices)
	}
	if m.frames > 1 {
		fmt.Fprintf(&b, "frames=%d\n", m.frames)
	}
	if m.images > 1 {
		b.WriteString("hyperstack=true\n")
	}
	if m.channels > 1 {
		b.WriteString("mode=grayscale\n")
	}
	b.WriteString("loop=false\n")
	return b.String()
}

// shaped is tifffile's JSON ImageDescription: {"shape": [...], "axes": "..."}.
type shaped struct {
	Shape []int  `json:"shape"`
	Axes  string `json:"axes,omitempty"`
}

// letterAxes maps tifffile's axis letters to this package's axis names.
var letterAxes = map[byte]string{'T': AxisTime, 'Z': AxisZ, 'C': AxisChannel, 'S': AxisChannel, 'Y': AxisY, 'X': AxisX}

// parseShaped returns the shape and axes of pages stacked pages of geometry
// g described by a tifffile shaped description, dropping dimensions of size
// 1 except y and x. ok is false when desc is not such a description, has no
// axes, or does not agree with the pages.
func parseShaped(desc string, pages int, g geometry) (shape []int, names []string, ok bool) {
	if !strings.HasPrefix(desc, "{") || g.spp != 1 {
		return nil, nil, false
	}
	var s shaped
	if json.Unmarshal([]byte(desc), &s) != nil || len(s.Axes) != len(s.Shape) || len(s.Shape) < 2 {
		return nil, nil, false
	}
	n := len(s.Shape)
	if s.Axes[n-2:] != "YX" || s.Shape[n-2] != g.height || s.Shape[n-1] != g.width {
		return nil, nil, false
	}
	seen := map[string]bool{}
	count := 1
	for i := range n - 2 {
		d := s.Shape[i]
		if d < 1 || d > pages {
			return nil, nil, false
		}
		count *= d
		if count > pages {
			return nil, nil, false
		}
		if d == 1 {
			continue
		}
		name := letterAxes[s.Axes[i]]
		if name == "" || name == AxisY || name == AxisX || seen[name] {
			return nil, nil, false
		}
		seen[name] = true
		shape, names = append(shape, d), append(names, name)
	}
	if count != pages {
		return nil, nil, false
	}
	shape, names = appendYX(shape, names, g)
	return shape, names, true
}

// shapedDescription returns tifffile's description for shape and axes
// given as this package's names (in TZCYX order).
func shapedDescription(shape []int, names []string) string {
	letters := map[string]byte{AxisTime: 'T', AxisZ: 'Z', AxisChannel: 'C', AxisY: 'Y', AxisX: 'X'}
	ax := make([]byte, len(names))
	for i, n := range names {
		ax[i] = letters[n]
	}
	b, _ := json.Marshal(shaped{Shape: shape, Axes: string(ax)})
	return string(b)
}
