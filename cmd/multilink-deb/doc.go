// Command multilink-deb builds multilink's Debian package from
// packaging/nfpm.yaml with nfpm used as a library (make deb runs it once
// per architecture): the binary, the systemd unit, the commented default
// config and the maintainer scripts, as dist/multilink_<version>_<arch>.deb.
// It derives the Debian version from `git describe` (see debVersion).
package main
