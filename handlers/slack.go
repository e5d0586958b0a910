package handlers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/hookd/hookd/internal/adminapi"
	"github.com/hookd/hookd/internal/clip"
	"github.com/hookd/hookd/verify"
	"github.com/labstack/echo/v4"
	"go.uber.org/zap"
)

// SlackClick is a click on one of an alert's buttons in Slack, as Slack posted it.
type SlackClick struct {
	// ActionID names the button; EventID is its value: the change the alert was about.
	ActionID, EventID string
	// UserID and UserName are the Slack user who clicked.
	UserID, UserName string
	// ResponseURL is where the message that was clicked can be replaced.
	ResponseURL string
	// RequestKey is the signed request's own key: a replay of it has the same.
	RequestKey string
}

// SlackDecider records what a click on an alert's button decided, for the Slack sink whose
// app signed the request, and then replaces the message. Its error says why a click is
// refused: adminapi.ErrNotFound for a change hookd does not know, ErrBadRequest for a button
// it has not, ErrConflict for a request it has recorded before.
type SlackDecider interface {
	Decide(ctx context.Context, sink string, click SlackClick) error
}

// ErrNotADecision is what a SlackDecider returns for a click on a button that decides
// nothing (a link): it is answered, and neither recorded nor refused.
var ErrNotADecision = errors.New("not a decision")

// SlackOptions are what /slack/interactions needs: the signing secrets of the Slack apps,
// and what to do with a click.
type SlackOptions struct {
	Signer  *verify.SlackSigner
	Decider SlackDecider
}

// maxSlackBody bounds a Slack interaction request: a payload carries the clicked message.
const maxSlackBody = 256 << 10

// slackPayload is the part of a block_actions payload hookd reads.
type slackPayload struct {
	Type string `json:"type"`
	User struct {
		ID       string `json:"id"`
		Username string `json:"username"`
		Name     string `json:"name"`
	} `json:"user"`
	Actions []struct {
		ActionID string `json:"action_id"`
		Value    string `json:"value"`
	} `json:"actions"`
	ResponseURL string `json:"response_url"`
}

// parseSlackClick reads the click of a signed request's body: a form whose one field,
// payload, is Slack's JSON.
func parseSlackClick(body []byte) (SlackClick, error) {
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return SlackClick{}, fmt.Errorf("%w: not a form", adminapi.ErrBadRequest)
	}
	var p slackPayload
	if err := json.Unmarshal([]byte(form.Get("payload")), &p); err != nil {
		return SlackClick{}, fmt.Errorf("%w: payload is not Slack's JSON", adminapi.ErrBadRequest)
	}
	if p.Type != "block_actions" || len(p.Actions) != 1 || p.User.ID == "" {
		return SlackClick{}, fmt.Errorf("%w: not one click on a button", adminapi.ErrBadRequest)
	}
	return SlackClick{ActionID: p.Actions[0].ActionID, EventID: p.Actions[0].Value, UserID: p.User.ID,
		UserName: firstNonEmpty(p.User.Name, p.User.Username), ResponseURL: p.ResponseURL}, nil
}

func firstNonEmpty(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}

// slackInteraction takes a click on an alert's button. Only a request signed by a
// configured Slack app, within five minutes, and not seen before counts: anything else is
// 401 and changes nothing. A click the decider refuses is answered with its status. The
// answer comes at once; the message is replaced after.
func (s *Server) slackInteraction(c echo.Context) error {
	body, err := io.ReadAll(c.Request().Body)
	if err != nil {
		return err
	}
	o := s.opts.Slack
	if o == nil || o.Signer == nil {
		return s.refuseSlack(c, "", "no Slack app is configured", errSlackUnauthorized)
	}
	req := c.Request()
	sink, err := o.Signer.Verify(req.Header.Get(verify.SlackTimestampHeader), req.Header.Get(verify.SlackSignatureHeader), body)
	if err != nil {
		return s.refuseSlack(c, "", err.Error(), errSlackUnauthorized)
	}
	click, err := parseSlackClick(body)
	if err != nil {
		return s.refuseSlack(c, sink, err.Error(), err)
	}
	// The signature is the request's own key; in one case, as its hex may come in either.
	click.RequestKey = strings.ToLower(req.Header.Get(verify.SlackSignatureHeader))
	err = o.Decider.Decide(req.Context(), sink, click)
	if errors.Is(err, ErrNotADecision) {
		return c.NoContent(http.StatusOK)
	}
	if err != nil {
		if errors.Is(err, adminapi.ErrConflict) {
			err = errSlackUnauthorized // a replay is refused as a forgery is
		}
		return s.refuseSlack(c, sink, err.Error(), err)
	}
	s.log.Info("Slack decision recorded", zap.String("sink", sink), zap.String("event_uuid", clip.Runes(click.EventID, 100)),
		zap.String("action", clip.Runes(click.ActionID, 50)), zap.String("slack_user", clip.Runes(click.UserID, 50)))
	return c.NoContent(http.StatusOK)
}

// errSlackUnauthorized refuses a request no configured Slack app signed, or signed too long
// ago, or already taken.
var errSlackUnauthorized = echo.NewHTTPError(http.StatusUnauthorized, "not a fresh request signed by a configured Slack app")

// refuseSlack logs a refused Slack request once, with why (never a secret), and answers err.
func (s *Server) refuseSlack(c echo.Context, sink, why string, err error) error {
	s.slackRefusedLog.Do(func() {
		s.log.Warn("Slack interaction refused", zap.String("sink", sink), zap.String("why", clip.Runes(why, 200)),
			zap.String("remote_ip", c.RealIP()))
	})
	return err
}
