package main

// Try-it in the visitor's browser (package browserrun): serve mounts the
// runtime that make build installs in browser-runtime/ (ONNX Runtime Web
// and zoo's runner compiled to WebAssembly) at /browser-runtime/, and the
// runnable files of published versions at /browser-models/; the model
// pages (feature_pages.go) offer the in-browser path where browserOffer
// allows it. Without the runtime every try-it runs on the server and the
// page says why.

import (
	"sync"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/browserrun"
	"github.com/zoo-bioimage/zoo/pages"
	"github.com/zoo-bioimage/zoo/spec"
	"github.com/zoo-bioimage/zoo/web"
)

var browserRuntime = sync.OnceValues(browserrun.FindRuntime)

// browserOffer is pages.Options.BrowserRun.
func browserOffer(v *zoo.Version, desc *spec.Model) pages.BrowserRun {
	rt, why := browserRuntime()
	o := browserrun.OfferFor(rt, why, v, desc)
	return pages.BrowserRun{Runtime: o.Runtime, Description: o.Description, Weights: o.Weights, WeightsBytes: o.WeightsBytes, TestInput: o.TestInput, TestOutput: o.TestOutput, Why: o.Why}
}

func init() {
	register(feature{
		name: "browser",
		routes: func(env *serverEnv) ([]web.Route, error) {
			rt, why := browserRuntime()
			if rt == nil {
				env.log.Info("browser: models run on the server only", "why", why)
				return nil, nil
			}
			env.log.Info("browser: serving the in-browser runtime", "dir", rt.Dir, "base", rt.Base())
			return rt.Routes(env.svc), nil
		},
	})
}
