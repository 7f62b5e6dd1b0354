package momentotest

import (
	"fmt"
	"net"
	"strconv"

	"github.com/momentohq/client-sdk-go/auth"
)

// Credential returns a credential provider that points every SDK endpoint
// at s over plaintext, with the WithAuthToken token (by default none,
// momento-local style). Call it after Listen (Start does).
func (s *Server) Credential() auth.CredentialProvider {
	creds, err := EndpointCredential(s.Addr(), s.opts.authToken)
	if err != nil {
		// Addr is always a valid host:port once listening.
		panic(fmt.Sprintf("momentotest: Credential before Listen: %v", err))
	}
	return creds
}

// EndpointCredential returns a credential provider that sends every SDK
// call, plaintext, to endpoint (host:port) with apiKey as the auth token:
//
//   - apiKey "": auth.NewMomentoLocalProvider (empty authorization);
//   - a key auth.FromString parses (v1 or legacy JWT key): that provider with
//     all endpoints overridden by WithEndpoints (the v1 key's api_key part
//     is sent, as with real Momento);
//   - any other string: a fixed provider sending the string as is.
//
// It uses only the SDK's public auth package, so the app can carry a copy.
func EndpointCredential(endpoint, apiKey string) (auth.CredentialProvider, error) {
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
// endpoints, for keys the SDK v1.38.0 cannot parse.
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
