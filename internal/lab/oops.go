package lab

import (
	"regexp"
	"strings"
)

// Oops is a kernel report (BUG, Oops, WARNING, panic) found on the console:
// the test that was running and the lines that name the fault and its call
// chain, so a log's tail says where the kernel broke without its registers.
type Oops struct {
	Package, Test string // what ran when it was printed
	Lines         []string
}

// maxOopsLines bounds one report: the header, RIP and the call trace fit.
const maxOopsLines = 60

// printk prefixes a kernel console line: "[  852.914426] ".
var printk = regexp.MustCompile(`^\[\s*\d+\.\d+\] `)

// oopsStart are the first lines of the kernel's reports.
var oopsStart = []string{"BUG:", "Oops:", "general protection fault", "WARNING: CPU:", "Kernel panic", "kernel BUG at"}

// oopsNoise are register dumps and byte codes: a reader cannot use them
// without the exact image, so they are left out of the excerpt.
var oopsNoise = regexp.MustCompile(`^(Code|RSP|RAX|RDX|RBP|R08|R10|R13|FS|CS|CR2|PKRU|DR0|DR3|DR6):|^\? `)

// oopsReader collects reports as the console is read line by line.
type oopsReader struct {
	found []Oops
	in    bool // inside a report
}

func (o *oopsReader) line(pkg, test, line string) {
	loc := printk.FindStringIndex(line)
	if loc == nil {
		return // test output between the kernel's lines
	}
	text := strings.TrimSpace(line[loc[1]:])
	switch {
	case o.in:
	case strings.HasPrefix(text, "Kernel panic") && o.last(pkg, test):
		o.in = true // the panic that ends the report just read
	case startsOops(text):
		o.found = append(o.found, Oops{Package: pkg, Test: test})
		o.in = true
	}
	if !o.in || oopsNoise.MatchString(text) {
		return
	}
	cur := &o.found[len(o.found)-1]
	if len(cur.Lines) < maxOopsLines {
		cur.Lines = append(cur.Lines, text)
	}
	if strings.HasPrefix(text, "Kernel panic") || strings.HasPrefix(text, "---[ end trace") {
		o.in = false
	}
}

// last reports whether the latest report was printed while the same test ran.
func (o *oopsReader) last(pkg, test string) bool {
	n := len(o.found)
	return n > 0 && o.found[n-1].Package == pkg && o.found[n-1].Test == test
}

func startsOops(text string) bool {
	for _, s := range oopsStart {
		if strings.HasPrefix(text, s) {
			return true
		}
	}
	return false
}
