package momentotest

import (
	"fmt"

	"github.com/momentohq/client-sdk-go/auth"

	"github.com/sessionchat/sessionchat/momento"
)

// Credential returns a credential provider that points every SDK endpoint
// at s over plaintext, with the WithAuthToken token (by default none,
// momento-local style). Call it after Listen (Start does).
func (s *Server) Credential() auth.CredentialProvider {
	creds, err := momento.Credentials(s.opts.authToken, s.Addr())
	if err != nil {
		// Addr is always a valid host:port once listening.
		panic(fmt.Sprintf("momentotest: Credential before Listen: %v", err))
	}
	return creds
}
