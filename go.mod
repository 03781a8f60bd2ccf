module github.com/zoo-bioimage/zoo

go 1.26.8

require (
	github.com/yalue/onnxruntime_go v1.27.0
	go.yaml.in/yaml/v3 v3.0.4 // indirect
)
