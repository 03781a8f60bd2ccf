package spec

import "encoding/json"

// JSON Schema (draft 2020-12) of the latest model format, for editors
// (autocompletion, inline checks). It encodes field types, required keys,
// enumerations, patterns and the unions; the cross-field rules (size
// references, unique ids, …) need `zoo validate`.

type obj = map[string]any

func props(required []string, p obj) obj {
	o := obj{"type": "object", "properties": p, "additionalProperties": false}
	if len(required) > 0 {
		o["required"] = required
	}
	return o
}

func str(desc string) obj               { return obj{"type": "string", "description": desc} }
func arr(items any) obj                 { return obj{"type": "array", "items": items} }
func enum(desc string, v ...string) obj { return obj{"type": "string", "enum": v, "description": desc} }
func ref(name string) obj               { return obj{"$ref": "#/$defs/" + name} }

// ModelSchema returns the JSON Schema of model format 0.5.7.
func ModelSchema() ([]byte, error) {
	posInt := obj{"type": "integer", "minimum": 1}
	number := obj{"type": "number"}
	fileSrc := str("an http(s) URL or a path relative to the description")
	fileDescr := props([]string{"source"}, obj{"source": fileSrc, "sha256": ref("sha256")})
	author := props([]string{"name"}, obj{
		"name": str("full name"), "affiliation": str(""), "email": obj{"type": "string", "format": "email"},
		"orcid": obj{"type": "string", "pattern": `^\d{4}-\d{4}-\d{4}-\d{3}[\dX]$`}, "github_user": str("GitHub user name"),
	})
	maintainer := props([]string{"github_user"}, author["properties"].(obj))
	axisCommon := func(typ string, extra obj, required ...string) obj {
		p := obj{"type": obj{"const": typ}, "id": ref("axisId"), "description": obj{"type": "string", "maxLength": 128}}
		for k, v := range extra {
			p[k] = v
		}
		return props(append([]string{"type"}, required...), p)
	}
	sizeRef := props([]string{"tensor_id", "axis_id"}, obj{"tensor_id": ref("tensorId"), "axis_id": ref("axisId"), "offset": obj{"type": "integer"}})
	paramSize := props([]string{"min", "step"}, obj{"min": posInt, "step": posInt})
	dataDep := props(nil, obj{"min": posInt, "max": obj{"type": "integer", "minimum": 2}})
	inputSize := obj{"oneOf": []any{posInt, paramSize, sizeRef}}
	spaceExtra := func(units []string, size any, input bool) obj {
		o := obj{"unit": enum("", units...), "scale": obj{"type": "number", "exclusiveMinimum": 0}, "size": size}
		if input {
			o["concatenable"] = obj{"type": "boolean"}
		}
		return o
	}
	inputAxis := obj{"oneOf": []any{
		axisCommon("batch", obj{"size": obj{"enum": []any{nil, 1}}}),
		axisCommon("channel", obj{"channel_names": arr(ref("identifier"))}, "channel_names"),
		axisCommon("index", obj{"size": inputSize, "concatenable": obj{"type": "boolean"}}, "size"),
		axisCommon("time", spaceExtra(timeUnits, inputSize, true), "size"),
		axisCommon("space", spaceExtra(spaceUnits, inputSize, true), "size"),
	}}
	outSize := obj{"oneOf": []any{posInt, sizeRef}}
	withHalo := func(units []string, typ string) obj {
		e := spaceExtra(units, sizeRef, false)
		e["halo"] = posInt
		return axisCommon(typ, e, "size", "halo")
	}
	outputAxis := obj{"oneOf": []any{
		axisCommon("batch", obj{"size": obj{"enum": []any{nil, 1}}}),
		axisCommon("channel", obj{"channel_names": arr(ref("identifier"))}, "channel_names"),
		axisCommon("index", obj{"size": obj{"oneOf": []any{posInt, sizeRef, dataDep}}}, "size"),
		axisCommon("time", spaceExtra(timeUnits, outSize, false), "size"),
		withHalo(timeUnits, "time"),
		axisCommon("space", spaceExtra(spaceUnits, outSize, false), "size"),
		withHalo(spaceUnits, "space"),
	}}
	dtype := enum("", dtypes05...)
	data := obj{"oneOf": []any{
		props(nil, obj{"type": dtype, "range": obj{"type": "array", "minItems": 2, "maxItems": 2, "items": obj{"type": []string{"number", "null"}}},
			"unit": str("\"arbitrary unit\" or an SI unit"), "scale": number, "offset": obj{"type": []string{"number", "null"}}}),
		props([]string{"values"}, obj{"type": enum("", dtypes05Bool...), "values": obj{"type": "array", "minItems": 1}, "unit": str("")}),
	}}
	axesList := arr(ref("axisId"))
	pct := obj{"type": "number", "minimum": 0, "maximum": 100}
	eps := obj{"type": "number", "exclusiveMinimum": 0, "maximum": 0.1}
	numOrList := obj{"oneOf": []any{number, arr(number)}}
	step := func(id string, kwargs obj, kwReq bool) obj {
		p := obj{"id": obj{"const": id}}
		req := []string{"id"}
		if kwargs != nil {
			p["kwargs"] = kwargs
			if kwReq {
				req = append(req, "kwargs")
			}
		}
		return props(req, p)
	}
	pre := []any{
		step("binarize", props([]string{"threshold"}, obj{"threshold": numOrList, "axis": ref("axisId")}), true),
		step("clip", props(nil, obj{"min": number, "max": number, "min_percentile": pct, "max_percentile": pct, "axes": axesList}), true),
		step("ensure_dtype", props([]string{"dtype"}, obj{"dtype": enum("", dtypes05Bool...)}), true),
		step("fixed_zero_mean_unit_variance", props([]string{"mean", "std"}, obj{"mean": numOrList, "std": numOrList, "axis": ref("axisId")}), true),
		step("scale_linear", props(nil, obj{"gain": numOrList, "offset": numOrList, "axis": ref("axisId")}), true),
		step("scale_range", props(nil, obj{"axes": axesList, "min_percentile": pct, "max_percentile": pct, "eps": eps, "reference_tensor": ref("tensorId")}), false),
		step("sigmoid", nil, false),
		step("softmax", props(nil, obj{"axis": ref("axisId")}), false),
		step("zero_mean_unit_variance", props(nil, obj{"axes": axesList, "eps": eps}), false),
	}
	post := append(append([]any(nil), pre...),
		step("scale_mean_variance", props([]string{"reference_tensor"}, obj{"reference_tensor": ref("tensorId"), "axes": axesList, "eps": eps}), true))
	tensor := func(input bool) obj {
		p := obj{
			"id": ref("tensorId"), "description": obj{"type": "string", "maxLength": 128},
			"test_tensor": fileDescr, "sample_tensor": fileDescr, "data": obj{"oneOf": []any{data, arr(data)}},
		}
		if input {
			p["axes"] = obj{"type": "array", "minItems": 1, "items": inputAxis}
			p["optional"] = obj{"type": "boolean"}
			p["preprocessing"] = arr(obj{"oneOf": pre})
		} else {
			p["axes"] = obj{"type": "array", "minItems": 1, "items": outputAxis}
			p["postprocessing"] = arr(obj{"oneOf": post})
		}
		return props([]string{"axes"}, p)
	}
	weightsEntry := func(extra obj, required ...string) obj {
		p := obj{"source": fileSrc, "sha256": ref("sha256"), "authors": arr(author), "parent": enum("", WeightFormats...), "comment": str("")}
		for k, v := range extra {
			p[k] = v
		}
		return props(append([]string{"source"}, required...), p)
	}
	version := obj{"type": []string{"string", "number", "integer"}, "description": "PEP 440 version, e.g. \"1.2.0\" (quote it)"}
	arch := obj{"oneOf": []any{
		props([]string{"source", "callable"}, obj{"source": fileSrc, "sha256": ref("sha256"), "callable": ref("identifier"), "kwargs": obj{"type": "object"}}),
		props([]string{"import_from", "callable"}, obj{"import_from": str("python module"), "callable": ref("identifier"), "kwargs": obj{"type": "object"}}),
	}}
	weights := props(nil, obj{
		"keras_hdf5":                    weightsEntry(obj{"tensorflow_version": version}, "tensorflow_version"),
		"onnx":                          weightsEntry(obj{"opset_version": obj{"type": "integer", "minimum": 7}, "external_data": fileDescr}, "opset_version"),
		"pytorch_state_dict":            weightsEntry(obj{"architecture": arch, "pytorch_version": version, "dependencies": fileDescr}, "architecture", "pytorch_version"),
		"tensorflow_js":                 weightsEntry(obj{"tensorflow_version": version}, "tensorflow_version"),
		"tensorflow_saved_model_bundle": weightsEntry(obj{"tensorflow_version": version, "dependencies": fileDescr}, "tensorflow_version"),
		"torchscript":                   weightsEntry(obj{"pytorch_version": version}, "pytorch_version"),
	})
	weights["minProperties"] = 1
	tolerance := obj{"type": "object", "properties": obj{
		"relative_tolerance":              obj{"type": "number", "minimum": 0, "maximum": 0.01},
		"absolute_tolerance":              obj{"type": "number", "minimum": 0},
		"mismatched_elements_per_million": obj{"type": "integer", "minimum": 0, "maximum": 1000},
		"output_ids":                      arr(ref("tensorId")), "weights_formats": arr(enum("", WeightFormats...)),
	}}
	schema := obj{
		"$schema": "https://json-schema.org/draft/2020-12/schema",
		"$id":     "https://bioimage.io/schemas/model-" + LatestModel + ".json",
		"title":   "bioimage.io model description " + LatestModel,
		"$defs": obj{
			"sha256":     obj{"type": "string", "minLength": 64, "maxLength": 64},
			"identifier": obj{"type": "string", "pattern": `^[A-Za-z_][A-Za-z0-9_]*$`},
			"tensorId":   obj{"type": "string", "pattern": `^[a-z_][a-z0-9_]*$`, "maxLength": 32},
			"axisId":     obj{"type": "string", "pattern": `^[a-z_][a-z0-9_]*$`, "maxLength": 16},
		},
		"type":                 "object",
		"additionalProperties": false,
		"required":             []string{"type", "format_version", "name", "inputs", "outputs", "weights"},
		"properties": obj{
			"type":            obj{"const": "model"},
			"format_version":  obj{"type": "string", "pattern": `^0\.5\.\d+$`},
			"name":            obj{"type": "string", "minLength": 5, "maxLength": 128, "pattern": `^[A-Za-z0-9_+\-() ]+$`},
			"description":     obj{"type": "string", "maxLength": 1024},
			"covers":          arr(str("image file (png, jpg, gif, svg, tif)")),
			"id_emoji":        obj{"type": "string", "minLength": 1, "maxLength": 32, "description": "one or two visible characters, e.g. an emoji; counted as a person sees them (🌶️, two code points, is one)"},
			"authors":         arr(author),
			"attachments":     arr(fileDescr),
			"cite":            arr(props([]string{"text"}, obj{"text": str(""), "doi": obj{"type": "string", "pattern": `^10\.[0-9]{4}.+$`}, "url": obj{"type": "string", "format": "uri"}})),
			"license":         obj{"type": "string", "description": "SPDX license id, e.g. MIT or CC-BY-4.0"},
			"git_repo":        obj{"type": "string", "format": "uri"},
			"icon":            str("an emoji or an image file"),
			"links":           arr(str("id of a related resource")),
			"uploader":        props([]string{"email"}, obj{"email": obj{"type": "string", "format": "email"}, "name": str("")}),
			"maintainers":     arr(maintainer),
			"tags":            arr(obj{"type": "string"}),
			"version":         version,
			"version_comment": obj{"type": "string", "maxLength": 512},
			"id":              obj{"type": "string", "pattern": `^[a-z0-9_\-/.]+$`},
			"documentation":   obj{"type": "string", "pattern": `\.md$`},
			"inputs":          obj{"type": "array", "minItems": 1, "items": tensor(true)},
			"outputs":         obj{"type": "array", "minItems": 1, "items": tensor(false)},
			"packaged_by":     arr(author),
			"parent":          props([]string{"id"}, obj{"id": str("model id"), "version": version}),
			"run_mode":        props([]string{"name"}, obj{"name": str(""), "kwargs": obj{"type": "object"}}),
			"timestamp":       obj{"type": "string", "format": "date-time"},
			"training_data":   obj{"type": []string{"object", "null"}},
			"weights":         weights,
			"config": obj{"type": "object", "properties": obj{"bioimageio": obj{"type": "object", "properties": obj{
				"reproducibility_tolerance": arr(tolerance),
			}}}},
		},
	}
	return json.MarshalIndent(schema, "", "  ")
}
