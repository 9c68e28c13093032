// Package apitls secures the REST API with TLS without a certificate
// authority: the daemon serves a self-signed certificate, and clients
// trust it by pinning its public key rather than by checking names or a
// chain.
//
// A pin is "sha256//" followed by the standard base64 of the SHA-256
// digest of the DER SubjectPublicKeyInfo, the format curl's
// --pinnedpubkey takes, so an operator can check the API by hand:
//
//	curl -k --pinnedpubkey sha256//... https://hub:3333/...
//
// The key lives in the state dir (api.key, ECDSA P-256, PKCS#8 PEM, mode
// 0600). It is generated once and kept: the certificate (api.crt) is
// reissued with the same key when it is missing, damaged, for another
// key, or close to expiry, so the pin never changes on its own. A damaged
// key is an error, never replaced silently, because a new key means a
// new pin every client must be given. An operator's own certificate and
// key (--tls-cert, --tls-key) are used as they are and never written.
//
// Clients (PinnedClientConfig) skip chain and name verification and
// instead refuse any server whose leaf certificate's key does not have
// the expected pin; the TLS handshake proves the server holds that key.
package apitls
