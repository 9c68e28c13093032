// Package nsthread runs a function on a fresh, locked OS thread inside a
// network namespace, the only safe way for Go code to work in another
// namespace: setns(2) changes the calling thread only.
//
// The thread is never unlocked, so it ends with the function and a thread
// left in another namespace is never reused. A child process the function
// starts is born in the namespace, and, since its parent-death signal is
// tied to the thread that forked it, keeps its parent as long as the
// function waits for it.
//
// The main thread is avoided: Go never ends it (a goroutine that exits
// locked to it wedges it instead), so it would stay in the namespace for
// good, and /proc/<pid>/ns/net, which `ip netns pids` reads, would then
// show the whole process in that namespace.
package nsthread
