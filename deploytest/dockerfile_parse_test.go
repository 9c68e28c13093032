package deploytest

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// instruction is one Dockerfile instruction: its keyword in upper case, its
// leading --flags and its arguments (from the JSON form when it has one).
// For HEALTHCHECK, Args are the command after CMD.
type instruction struct {
	Cmd   string
	Flags map[string]string
	Args  []string
	JSON  bool
	Line  int
}

// stage is one FROM and the instructions after it.
type stage struct {
	Name  string // the AS name, if any
	Base  string // the image or earlier stage it starts from
	Instr []instruction
}

// parseDockerfile reads the subset of Dockerfile syntax a plain file uses:
// comments, backslash continuations, --flags, JSON and shell forms. No
// heredocs, no escape directive, no ARG expansion.
func parseDockerfile(src string) ([]stage, error) {
	var stages []stage
	lines := strings.Split(src, "\n")
	for i := 0; i < len(lines); i++ {
		start := i + 1
		text := strings.TrimSpace(lines[i])
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		for strings.HasSuffix(text, `\`) && i+1 < len(lines) {
			i++
			next := strings.TrimSpace(lines[i])
			if strings.HasPrefix(next, "#") {
				continue // comment lines inside a continuation are dropped
			}
			text = strings.TrimSuffix(text, `\`) + " " + next
		}
		in, err := parseInstruction(text, start)
		if err != nil {
			return nil, err
		}
		if in.Cmd == "FROM" {
			st := stage{Base: in.Args[0]}
			if len(in.Args) == 3 && strings.EqualFold(in.Args[1], "AS") {
				st.Name = in.Args[2]
			}
			stages = append(stages, st)
			continue
		}
		if len(stages) == 0 {
			if in.Cmd == "ARG" {
				continue // ARGs before the first FROM
			}
			return nil, fmt.Errorf("line %d: %s before FROM", start, in.Cmd)
		}
		last := &stages[len(stages)-1]
		last.Instr = append(last.Instr, in)
	}
	if len(stages) == 0 {
		return nil, fmt.Errorf("no FROM")
	}
	return stages, nil
}

// flagged are the instructions that take leading --flags.
var flagged = map[string]bool{"FROM": true, "COPY": true, "ADD": true, "RUN": true, "HEALTHCHECK": true}

func parseInstruction(text string, line int) (instruction, error) {
	cmd, rest, _ := strings.Cut(text, " ")
	in := instruction{Cmd: strings.ToUpper(cmd), Flags: map[string]string{}, Line: line}
	rest = strings.TrimSpace(rest)
	for flagged[in.Cmd] && strings.HasPrefix(rest, "--") {
		var flag string
		flag, rest, _ = strings.Cut(rest, " ")
		k, v, _ := strings.Cut(strings.TrimPrefix(flag, "--"), "=")
		in.Flags[k] = v
		rest = strings.TrimSpace(rest)
	}
	if in.Cmd == "HEALTHCHECK" {
		word, after, _ := strings.Cut(rest, " ")
		if strings.ToUpper(word) != "CMD" {
			return in, nil // HEALTHCHECK NONE
		}
		rest = strings.TrimSpace(after)
	}
	if strings.HasPrefix(rest, "[") {
		var args []string
		if err := json.Unmarshal([]byte(rest), &args); err != nil {
			return in, fmt.Errorf("line %d: %s: JSON form: %w", line, in.Cmd, err)
		}
		in.Args, in.JSON = args, true
		return in, nil
	}
	in.Args = strings.Fields(rest)
	if len(in.Args) == 0 && in.Cmd != "HEALTHCHECK" {
		return in, fmt.Errorf("line %d: %s has no arguments", line, in.Cmd)
	}
	return in, nil
}

// find returns the instructions with keyword cmd in st.
func (st stage) find(cmd string) []instruction {
	var out []instruction
	for _, in := range st.Instr {
		if in.Cmd == cmd {
			out = append(out, in)
		}
	}
	return out
}

func TestParseDockerfile(t *testing.T) {
	src := `# syntax=docker/dockerfile:1
ARG X=1
FROM --platform=$BUILDPLATFORM golang:1@sha256:abc AS build
COPY go.mod go.sum ./
RUN a \
# dropped
    && b
FROM debian
COPY --from=build --chmod=0755 /out/x /usr/bin/x
HEALTHCHECK --interval=5s CMD ["wget", "http://127.0.0.1:1/health"]
ENTRYPOINT ["x", "daemon"]
CMD --listen :1
`
	stages, err := parseDockerfile(src)
	if err != nil {
		t.Fatal(err)
	}
	if len(stages) != 2 || stages[0].Name != "build" || stages[0].Base != "golang:1@sha256:abc" || stages[1].Base != "debian" {
		t.Fatalf("stages: %+v", stages)
	}
	if run := stages[0].find("RUN"); len(run) != 1 || strings.Join(run[0].Args, " ") != "a && b" {
		t.Errorf("RUN with continuation and comment: %+v", run)
	}
	cp := stages[1].find("COPY")[0]
	if cp.Flags["from"] != "build" || cp.Flags["chmod"] != "0755" || strings.Join(cp.Args, " ") != "/out/x /usr/bin/x" {
		t.Errorf("COPY --from: %+v", cp)
	}
	hc := stages[1].find("HEALTHCHECK")[0]
	if !hc.JSON || hc.Flags["interval"] != "5s" || len(hc.Args) != 2 || hc.Args[1] != "http://127.0.0.1:1/health" {
		t.Errorf("HEALTHCHECK: %+v", hc)
	}
	if ep := stages[1].find("ENTRYPOINT")[0]; !ep.JSON || strings.Join(ep.Args, " ") != "x daemon" {
		t.Errorf("ENTRYPOINT: %+v", ep)
	}
	if cmd := stages[1].find("CMD")[0]; cmd.JSON || strings.Join(cmd.Args, " ") != "--listen :1" {
		t.Errorf("shell-form CMD: %+v", cmd)
	}
	if _, err := parseDockerfile("COPY a b\n"); err == nil {
		t.Error("COPY before FROM was accepted")
	}
	if _, err := parseDockerfile("FROM x\nCMD [\"a\",\n"); err == nil {
		t.Error("broken JSON form was accepted")
	}
}
