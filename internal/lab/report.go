package lab

import (
	"fmt"
	"strconv"
	"strings"
)

// Result is one test's outcome.
type Result struct {
	Package, Test, Status string // Status: PASS, FAIL, SKIP
	// Output is what a failed test said: its own lines (t.Log, t.Error),
	// not the daemon log lines it forwards, at most maxOutput of the last.
	Output []string
}

// maxOutput bounds a failed test's excerpt, so a chatty test cannot bury
// the summary.
const maxOutput = 40

// Report is what one kernel's run produced.
type Report struct {
	Kernel   string         // uname -r seen inside
	Results  []Result       // top-level tests
	Exit     map[string]int // package -> exit status
	Problems []string       // packages that never ended, crashes
	Oops     []Oops         // the kernel's own reports of a fault
}

// Parse reads a VM console log; want lists the packages the plan ran.
func Parse(out string, want []string) Report {
	r := Report{Exit: map[string]int{}}
	cur := ""
	test := ""                    // top-level test the lines belong to
	said := map[string][]string{} // its own lines so far
	ran := ""                     // the latest top-level test, also after its end
	var oops oopsReader
	for _, line := range strings.Split(out, "\n") {
		line = strings.TrimRight(line, "\r")
		oops.line(cur, ran, line)
		switch {
		case strings.HasPrefix(line, "=== RUN ") || strings.HasPrefix(line, "=== NAME ") || strings.HasPrefix(line, "=== CONT "):
			f := strings.Fields(line)
			if len(f) >= 3 {
				test, _, _ = strings.Cut(f[2], "/")
				ran = test
			}
		case test != "" && strings.HasPrefix(line, "    ") && !isLogRecord(line):
			k := cur + "/" + test
			said[k] = append(said[k], strings.TrimSpace(line))
			if n := len(said[k]); n > maxOutput {
				said[k] = said[k][n-maxOutput:]
			}
		case strings.HasPrefix(line, "LAB-KERNEL: "):
			r.Kernel = strings.TrimPrefix(line, "LAB-KERNEL: ")
		case strings.HasPrefix(line, "LAB-PKG-BEGIN "):
			cur = strings.TrimPrefix(line, "LAB-PKG-BEGIN ")
		case strings.HasPrefix(line, "LAB-PKG-END "):
			f := strings.Fields(strings.TrimPrefix(line, "LAB-PKG-END "))
			if len(f) == 2 {
				n, err := strconv.Atoi(f[1])
				if err != nil {
					n = -1
				}
				r.Exit[f[0]] = n
			}
			cur = ""
		case strings.HasPrefix(line, "--- "):
			// Top-level results only: subtests are indented.
			f := strings.Fields(line)
			if len(f) >= 3 && (f[1] == "PASS:" || f[1] == "FAIL:" || f[1] == "SKIP:") {
				res := Result{Package: cur, Test: f[2], Status: strings.TrimSuffix(f[1], ":")}
				if res.Status == "FAIL" {
					res.Output = said[cur+"/"+f[2]]
				}
				r.Results = append(r.Results, res)
				delete(said, cur+"/"+f[2])
				test = ""
			}
		case strings.HasPrefix(line, "LAB-ERROR: "):
			r.Problems = append(r.Problems, strings.TrimPrefix(line, "LAB-ERROR: "))
		}
	}
	r.Oops = oops.found
	for _, o := range r.Oops {
		r.Problems = append(r.Problems, fmt.Sprintf("kernel report during %s/%s: %s", o.Package, o.Test, o.Lines[0]))
	}
	for _, p := range want {
		rc, ok := r.Exit[p]
		switch {
		case !ok:
			r.Problems = append(r.Problems, fmt.Sprintf("package %s reported no result (crash or hang)", p))
		case rc != 0 && r.count(p, "FAIL") == 0:
			r.Problems = append(r.Problems, fmt.Sprintf("package %s exited %d without a failing test (panic, timeout or build problem)", p, rc))
		}
	}
	return r
}

// isLogRecord tells a slog record a test forwards from a daemon (time=...
// level=...) from the test's own words.
func isLogRecord(line string) bool {
	return strings.Contains(line, "time=") && strings.Contains(line, " level=")
}

func (r Report) count(pkg, status string) int {
	n := 0
	for _, x := range r.Results {
		if x.Status == status && (pkg == "" || x.Package == pkg) {
			n++
		}
	}
	return n
}

// Counts returns how many tests passed, failed and were skipped.
func (r Report) Counts() (pass, fail, skip int) {
	return r.count("", "PASS"), r.count("", "FAIL"), r.count("", "SKIP")
}

// OK reports whether nothing failed and every package ended with status 0.
func (r Report) OK() bool {
	_, fail, _ := r.Counts()
	if fail > 0 || len(r.Problems) > 0 {
		return false
	}
	for _, rc := range r.Exit {
		if rc != 0 {
			return false
		}
	}
	return true
}
