// Package atomicfile writes the files multilink keeps (desired state, API
// token, link keys, OpenVPN configs) so that a reader, or the next start
// after a crash, sees either the old content or the new one, never a
// partial file: data goes to a temporary file in the same directory,
// synced, which then replaces (Write) or creates (WriteNew) the file,
// and the directory is synced.
package atomicfile
