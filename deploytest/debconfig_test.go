package deploytest

import (
	"os"
	"strings"
	"testing"

	"github.com/multilink/multilink/internal/config"
)

// TestDebConfigExamples: the package's default config parses as the
// daemon's with nothing in it, and its commented examples, uncommented
// (placeholders filled in), parse too and declare what they say: the
// examples stay true as the config's rules change.
func TestDebConfigExamples(t *testing.T) {
	data, err := os.ReadFile("../packaging/config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	f, err := config.ParseFile(data)
	if err != nil || len(f.Servers)+len(f.Clients) != 0 || f.Probe != nil || f.Policy != nil {
		t.Fatalf("the shipped config: %+v, %v; want nothing declared", f, err)
	}
	// The examples are the comment lines that start a top-level key
	// ("# server:") or continue one ("#   ..."). The hub's and the
	// gateway's are for different hosts (their TAP names would collide),
	// so each is parsed on its own, the gateway's with probe and policy.
	blocks := map[string][]string{}
	key := ""
	for _, line := range strings.Split(string(data), "\n") {
		rest, ok := strings.CutPrefix(line, "# ")
		if !ok {
			key = ""
			continue
		}
		if k, _, _ := strings.Cut(rest, ":"); k == "server" || k == "client" || k == "probe" || k == "policy" {
			key = k
		} else if !strings.HasPrefix(rest, "  ") {
			key = ""
		}
		if key != "" {
			blocks[key] = append(blocks[key], rest)
		}
	}
	fill := strings.NewReplacer(
		"<the hub's pin>", "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
		"<the hub's API token>", "an-example-token",
	)
	parse := func(keys ...string) config.File {
		var lines []string
		for _, k := range keys {
			if len(blocks[k]) == 0 {
				t.Fatalf("no %s: example in packaging/config.yaml", k)
			}
			lines = append(lines, blocks[k]...)
		}
		example := fill.Replace(strings.Join(lines, "\n"))
		f, err := config.ParseFile([]byte(example))
		if err != nil {
			t.Fatalf("the config's example, uncommented:\n%s\n%v", example, err)
		}
		return f
	}
	if f := parse("server"); len(f.Servers) != 1 || f.Servers[0].BridgeInterface != "br0" || f.Servers[0].Links != 2 {
		t.Errorf("the hub's example declares %+v, want br0 with 2 links", f.Servers)
	}
	f = parse("client", "probe", "policy")
	if len(f.Clients) != 1 || f.Clients[0].Bond != "bond0" || len(f.Clients[0].Slaves) != 2 || f.Probe == nil || f.Policy == nil {
		t.Errorf("the gateway's example declares %+v, want bond0 with two slaves, probe and policy", f)
	}
}
