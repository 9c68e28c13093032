package restapi

import (
	"encoding/json"
	"net/http"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/multilink/multilink/api"
	"github.com/multilink/multilink/internal/errkind"
	"github.com/multilink/multilink/internal/failover"
	"github.com/multilink/multilink/internal/probe"
	"github.com/multilink/multilink/internal/testsupport"
	"github.com/multilink/multilink/internal/webui"
)

// openAPIDoc is the part of the document the tests read.
type openAPIDoc struct {
	OpenAPI    string                          `json:"openapi"`
	Paths      map[string]map[string]openAPIOp `json:"paths"`
	Components struct {
		Schemas         map[string]json.RawMessage `json:"schemas"`
		SecuritySchemes map[string]struct {
			Type   string `json:"type"`
			Scheme string `json:"scheme"`
		} `json:"securitySchemes"`
		Parameters map[string]openAPIParam `json:"parameters"`
	} `json:"components"`
}

type openAPIOp struct {
	Security    *[]map[string][]string `json:"security"`
	Parameters  []openAPIParam         `json:"parameters"`
	RequestBody *struct {
		Content map[string]struct {
			Example json.RawMessage `json:"example"`
		} `json:"content"`
	} `json:"requestBody"`
	Responses map[string]json.RawMessage `json:"responses"`
}

type openAPIParam struct {
	Ref  string `json:"$ref"`
	Name string `json:"name"`
	In   string `json:"in"`
}

func loadOpenAPI(t *testing.T) openAPIDoc {
	t.Helper()
	var doc openAPIDoc
	if err := json.Unmarshal(openAPI, &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.0") {
		t.Fatalf("openapi %q, want 3.0.x", doc.OpenAPI)
	}
	return doc
}

var ginParam = regexp.MustCompile(`:([A-Za-z_]+)`)

// routerOps returns "METHOD /path/{param}" for every route of a router
// with every optional endpoint (metrics) enabled.
func routerOps(t *testing.T) []string {
	t.Helper()
	d, _ := fakeDeps(testToken)
	d.Metrics = http.NotFoundHandler()
	r, err := NewRouter(d)
	if err != nil {
		t.Fatal(err)
	}
	var ops []string
	for _, rt := range r.Routes() {
		if strings.HasPrefix(rt.Path, strings.TrimSuffix(webui.Prefix, "/")) {
			continue // the web page's files: a page, not an API operation
		}
		ops = append(ops, rt.Method+" "+ginParam.ReplaceAllString(rt.Path, "{$1}"))
	}
	slices.Sort(ops)
	return ops
}

func docOps(doc openAPIDoc) []string {
	var ops []string
	for p, methods := range doc.Paths {
		for m := range methods {
			ops = append(ops, strings.ToUpper(m)+" "+p)
		}
	}
	slices.Sort(ops)
	return ops
}

// TestOpenAPIMatchesRouter: every route is documented and every
// documented operation is routed.
func TestOpenAPIMatchesRouter(t *testing.T) {
	routed, documented := routerOps(t), docOps(loadOpenAPI(t))
	for _, op := range routed {
		if !slices.Contains(documented, op) {
			t.Errorf("routed but not documented: %s", op)
		}
	}
	for _, op := range documented {
		if !slices.Contains(routed, op) {
			t.Errorf("documented but not routed: %s", op)
		}
	}
	if len(routed) != 25 {
		t.Errorf("%d routes, want the spec's 15 + /health + /metrics + links, events, policy GET and PUT, claim, release and both rotations: %q", len(routed), routed)
	}
}

// TestOpenAPISecurityMatchesRouter: an operation documents the bearer
// requirement exactly when the router refuses it without a token, and
// then documents the 401.
func TestOpenAPISecurityMatchesRouter(t *testing.T) {
	doc := loadOpenAPI(t)
	if s := doc.Components.SecuritySchemes["bearerAuth"]; s.Type != "http" || s.Scheme != "bearer" {
		t.Errorf("bearerAuth scheme %+v", s)
	}
	d, rec := fakeDeps(testToken)
	d.Metrics = http.NotFoundHandler()
	a := newTestAPIWith(t, d, rec)
	pathArg := strings.NewReplacer("{bridge_interface}", "br0", "{bond_interface}", "bond0", "{tap}", "tap1")
	for p, methods := range doc.Paths {
		for m, op := range methods {
			if op.Security == nil {
				t.Errorf("%s %s: no security field (use [] for open)", m, p)
				continue
			}
			documented := len(*op.Security) > 0
			w := a.doAuth(strings.ToUpper(m), pathArg.Replace(p), "", "")
			refused := w.Code == http.StatusUnauthorized
			if documented != refused {
				t.Errorf("%s %s: documented bearer=%t, router answers %d without a token", m, p, documented, w.Code)
			}
			_, has401 := op.Responses["401"]
			if documented != has401 {
				t.Errorf("%s %s: bearer=%t but 401 documented=%t", m, p, documented, has401)
			}
			if _, ok := op.Responses["200"]; !ok {
				t.Errorf("%s %s: no 200 response", m, p)
			}
		}
	}
}

// TestOpenAPIPathParams: each {param} of a path is declared as a path
// parameter of its operations.
func TestOpenAPIPathParams(t *testing.T) {
	doc := loadOpenAPI(t)
	brace := regexp.MustCompile(`\{([a-z_]+)\}`)
	for p, methods := range doc.Paths {
		for m, op := range methods {
			var declared []string
			for _, prm := range op.Parameters {
				if prm.Ref != "" {
					prm = doc.Components.Parameters[strings.TrimPrefix(prm.Ref, "#/components/parameters/")]
				}
				if prm.In == "path" {
					declared = append(declared, prm.Name)
				}
			}
			var want []string
			for _, mm := range brace.FindAllStringSubmatch(p, -1) {
				want = append(want, mm[1])
			}
			if !slices.Equal(declared, want) {
				t.Errorf("%s %s: path parameters %q, want %q", m, p, declared, want)
			}
		}
	}
}

// TestOpenAPIExamplesAreTheSpecs: the request examples are the spec's
// example bodies, and the router accepts each.
func TestOpenAPIExamplesAreTheSpecs(t *testing.T) {
	doc := loadOpenAPI(t)
	cases := []struct{ method, path, file string }{
		{"post", "/v1/server/start", "spec_server_start.json"},
		{"post", "/v1/client/start", "spec_client_start.json"},
		{"put", "/v1/client/bond_params/{bond_interface}", "spec_bond_params.json"},
	}
	for _, tc := range cases {
		op := doc.Paths[tc.path][tc.method]
		if op.RequestBody == nil {
			t.Errorf("%s %s: no request body", tc.method, tc.path)
			continue
		}
		var got, want any
		if err := json.Unmarshal(op.RequestBody.Content["application/json"].Example, &got); err != nil {
			t.Errorf("%s %s example: %v", tc.method, tc.path, err)
		}
		if err := json.Unmarshal(testsupport.SpecBody(t, tc.file), &want); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s %s: example differs from %s", tc.method, tc.path, tc.file)
		}
	}
	// Every body example is accepted by the router.
	a := newTestAPI(t)
	for p, methods := range doc.Paths {
		for m, op := range methods {
			if op.RequestBody == nil {
				continue
			}
			ex := op.RequestBody.Content["application/json"].Example
			path := strings.NewReplacer("{bond_interface}", "bond0", "{bridge_interface}", "br0").Replace(p)
			if w := a.do(strings.ToUpper(m), path, string(ex)); w.Code != http.StatusOK {
				t.Errorf("%s %s: its example answers %d %s", m, p, w.Code, w.Body)
			}
		}
	}
}

// TestOpenAPIRefsResolve: every local $ref points at something.
func TestOpenAPIRefsResolve(t *testing.T) {
	var doc any
	if err := json.Unmarshal(openAPI, &doc); err != nil {
		t.Fatal(err)
	}
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if ref, ok := v["$ref"].(string); ok {
				if !resolves(doc, ref) {
					t.Errorf("$ref %q does not resolve", ref)
				}
			}
			for _, c := range v {
				walk(c)
			}
		case []any:
			for _, c := range v {
				walk(c)
			}
		}
	}
	walk(doc)
}

func resolves(doc any, ref string) bool {
	if !strings.HasPrefix(ref, "#/") {
		return false
	}
	cur := doc
	for _, part := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
		m, ok := cur.(map[string]any)
		if !ok {
			return false
		}
		if cur, ok = m[part]; !ok {
			return false
		}
	}
	return true
}

// TestOpenAPISchemasMatchTypes: the documented properties of each answer
// are the JSON fields of the Go type that is encoded.
func TestOpenAPISchemasMatchTypes(t *testing.T) {
	doc := loadOpenAPI(t)
	types := map[string]any{
		"Error":          api.Error{},
		"HubStatus":      api.ServerStatus{},
		"HubLink":        api.ServerLink{},
		"ServerStatus":   api.ServerStatusResponse{},
		"Key":            api.Key{},
		"Stopped":        stopped{},
		"GatewayStatus":  api.ClientStatus{},
		"GatewayLink":    api.ClientLink{},
		"ClientStatus":   api.ClientStatusResponse{},
		"BondInfo":       api.BondInfo{},
		"TapState":       tapState{},
		"PingResult":     api.PingResult{},
		"Version":        versionBody{},
		"Health":         api.HealthReport{},
		"ClaimRequest":   api.ClaimRequest{},
		"ReleaseRequest": api.ReleaseRequest{},
		"Released":       api.Released{},
		"Holder":         api.Holder{},
	}
	for name, v := range types {
		var s struct {
			Properties map[string]json.RawMessage `json:"properties"`
		}
		if err := json.Unmarshal(doc.Components.Schemas[name], &s); err != nil {
			t.Errorf("schema %s: %v", name, err)
			continue
		}
		var documented, fields []string
		for p := range s.Properties {
			documented = append(documented, p)
		}
		rt := reflect.TypeOf(v)
		for i := 0; i < rt.NumField(); i++ {
			tag, _, _ := strings.Cut(rt.Field(i).Tag.Get("json"), ",")
			if tag != "" && tag != "-" {
				fields = append(fields, tag)
			}
		}
		slices.Sort(documented)
		slices.Sort(fields)
		if !slices.Equal(documented, fields) {
			t.Errorf("schema %s documents %q, %T has %q", name, documented, v, fields)
		}
	}
	// Types with their own JSON encoding: the documented properties are the
	// keys of an encoded value (every optional field set).
	encoded := map[string]any{
		"LinkStats":    probe.LinkStats{Figures: probe.Figures{HasRTT: true}, SendError: "x", Histogram: []probe.Bucket{{}}}.API(),
		"Event":        failover.Event{Kind: api.EventSwitch, From: "a", To: "b", Reason: "r", Link: "l", State: "s", Detail: "d", Signal: "g", Redundancy: time.Millisecond}.API(),
		"PolicyStatus": api.PolicyStatus{FailoverStatus: api.FailoverStatus{Pin: "tap1", Links: []api.FailoverLink{{}}, OnlyWhenNeeded: []string{"tap2"}, Duplicating: "tap2"}},
		"Policy":       failover.DefaultPolicy().View(),
	}
	for name, v := range encoded {
		var s struct {
			Properties map[string]json.RawMessage `json:"properties"`
		}
		if err := json.Unmarshal(doc.Components.Schemas[name], &s); err != nil {
			t.Errorf("schema %s: %v", name, err)
			continue
		}
		data, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		var keys map[string]json.RawMessage
		if err := json.Unmarshal(data, &keys); err != nil {
			t.Fatal(err)
		}
		var documented, fields []string
		for p := range s.Properties {
			documented = append(documented, p)
		}
		for k := range keys {
			fields = append(fields, k)
		}
		slices.Sort(documented)
		slices.Sort(fields)
		if !slices.Equal(documented, fields) {
			t.Errorf("schema %s documents %q, %T encodes %q", name, documented, v, fields)
		}
	}
	// Every bonding parameter config knows is documented.
	var bp struct {
		Properties map[string]json.RawMessage `json:"properties"`
	}
	if err := json.Unmarshal(doc.Components.Schemas["BondParams"], &bp); err != nil {
		t.Fatal(err)
	}
	for _, k := range api.BondParamKeys {
		if _, ok := bp.Properties[k]; !ok {
			t.Errorf("bonding parameter %s is not documented", k)
		}
	}
}

// TestOpenAPIStartsDocumentHostErrors: a start needs openvpn (and a client
// the bonding driver); a host without them answers 501, which both starts
// document.
func TestOpenAPIStartsDocumentHostErrors(t *testing.T) {
	doc := loadOpenAPI(t)
	for _, path := range []string{"/v1/server/start", "/v1/client/start"} {
		if _, ok := doc.Paths[path]["post"].Responses["501"]; !ok {
			t.Errorf("POST %s does not document 501", path)
		}
	}
	a := newTestAPI(t)
	a.rec.Err = errkind.Unsupported(nil, "find openvpn")
	wantError(t, a.do(http.MethodPost, guarded[0].path, guarded[0].body), http.StatusNotImplemented)
}
