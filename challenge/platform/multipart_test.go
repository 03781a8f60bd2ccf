package platform

import (
	"encoding/json"
	"io"
	"mime/multipart"
)

type mpWriter struct{ w *multipart.Writer }

func newMultipart(w io.Writer) *mpWriter { return &mpWriter{multipart.NewWriter(w)} }

func (m *mpWriter) json(name string, v any) {
	p, _ := m.w.CreateFormField(name)
	json.NewEncoder(p).Encode(v)
}

func (m *mpWriter) file(field, name string, data []byte) {
	p, _ := m.w.CreateFormFile(field, name)
	p.Write(data)
}

func (m *mpWriter) close() string {
	m.w.Close()
	return m.w.FormDataContentType()
}
