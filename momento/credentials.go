package momento

import (
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
	"net"
	"strconv"

	"github.com/momentohq/client-sdk-go/auth"
)

// Credentials returns the SDK credentials for apiKey. With no endpoint the
// key's own endpoints are used (real Momento). With an endpoint
// (host:port) every call goes there over plaintext, for a local
// Momento-compatible server:
//
//   - apiKey "": no authorization, as momento-local expects;
//   - a key the SDK parses (v1 or legacy JWT): that key, endpoints replaced;
//   - any other string: sent as it is.
func Credentials(apiKey, endpoint string) (auth.CredentialProvider, error) {
	if endpoint == "" {
		creds, err := auth.FromString(apiKey)
		if err != nil {
			return nil, fmt.Errorf("MOMENTO_API_KEY: %w", err)
		}
		return creds, nil
	}
	host, portStr, err := net.SplitHostPort(endpoint)
	if err != nil {
		return nil, fmt.Errorf("momento endpoint %q: %w", endpoint, err)
	}
	port, err := strconv.ParseUint(portStr, 10, 16)
	if err != nil || port == 0 {
		return nil, fmt.Errorf("momento endpoint %q: bad port", endpoint)
	}
	if apiKey == "" {
		return auth.NewMomentoLocalProvider(&auth.MomentoLocalConfig{Hostname: host, Port: uint(port)})
	}
	ep := auth.Endpoint{Endpoint: endpoint, InsecureConnection: true}
	all := auth.AllEndpoints{CacheEndpoint: ep, ControlEndpoint: ep, TokenEndpoint: ep, StorageEndpoint: ep}
	if creds, err := auth.FromString(apiKey); err == nil {
		return creds.WithEndpoints(all)
	}
	return fixedCredential{token: apiKey, endpoints: all}, nil
}

// fixedCredential is an auth.CredentialProvider with a fixed token and
// endpoints, for keys SDK v1.38.0 cannot parse.
type fixedCredential struct {
	token     string
	endpoints auth.AllEndpoints
}

func (f fixedCredential) GetAuthToken() string { return f.token }

func (f fixedCredential) GetControlEndpoint() string { return f.endpoints.ControlEndpoint.Endpoint }
func (f fixedCredential) GetCacheEndpoint() string   { return f.endpoints.CacheEndpoint.Endpoint }
func (f fixedCredential) GetTokenEndpoint() string   { return f.endpoints.TokenEndpoint.Endpoint }
func (f fixedCredential) GetStorageEndpoint() string { return f.endpoints.StorageEndpoint.Endpoint }

func (f fixedCredential) IsControlEndpointSecure() bool { return secure(f.endpoints.ControlEndpoint) }
func (f fixedCredential) IsCacheEndpointSecure() bool   { return secure(f.endpoints.CacheEndpoint) }
func (f fixedCredential) IsTokenEndpointSecure() bool   { return secure(f.endpoints.TokenEndpoint) }
func (f fixedCredential) IsStorageEndpointSecure() bool { return secure(f.endpoints.StorageEndpoint) }

func secure(e auth.Endpoint) bool { return !e.InsecureConnection }

// WithEndpoints replaces the non-empty endpoints, like the SDK's providers.
func (f fixedCredential) WithEndpoints(e auth.AllEndpoints) (auth.CredentialProvider, error) {
	for _, p := range []struct{ dst, src *auth.Endpoint }{
		{&f.endpoints.CacheEndpoint, &e.CacheEndpoint},
		{&f.endpoints.ControlEndpoint, &e.ControlEndpoint},
		{&f.endpoints.TokenEndpoint, &e.TokenEndpoint},
		{&f.endpoints.StorageEndpoint, &e.StorageEndpoint},
	} {
		if p.src.Endpoint != "" {
			*p.dst = *p.src
		}
	}
	return f, nil
}

// String hides the token, as the SDK's providers do.
func (f fixedCredential) String() string {
	return fmt.Sprintf("CredentialProvider{authToken=***, cacheEndpoint=%s}", f.endpoints.CacheEndpoint)
}

// HostSecret derives the secret that signs host links (the chat's
// CHAT_HOST_SECRET when neither it nor CHAT_AUTH_SECRET is set) from the
// Momento settings: HMAC-SHA256 keyed with the API key over the cache name
// and endpoint. Every instance of one chat (same key, cache and endpoint)
// derives the same 32 bytes, so a host link made on one works on all, and
// after restarts; another cache or key gives another secret. Whoever holds
// the API key can derive it, as they can rewrite every room anyway.
//
// keyed is false when apiKey is empty (a local, unauthenticated endpoint):
// the secret then follows from the endpoint and cache alone, which are not
// secret, and host links can be forged; set CHAT_HOST_SECRET there.
func HostSecret(apiKey, endpoint, cache string) (secret []byte, keyed bool) {
	m := hmac.New(sha256.New, []byte(apiKey))
	m.Write([]byte("sessionchat host secret\x00"))
	m.Write([]byte(cache))
	m.Write([]byte{0})
	m.Write([]byte(endpoint))
	return m.Sum(nil), apiKey != ""
}
