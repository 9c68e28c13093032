// Package pressure reads the kernel's CPU pressure (PSI,
// /proc/pressure/cpu): the share of time at least one runnable task
// waited for a CPU. The failover engine uses it to tell a busy host from
// a dead link: replies that cross user-space tunnels come late when their
// processes wait for a CPU.
package pressure
