package app

import (
	"context"
	"net/http"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/wecom-home-ops/wecom-home-ops/internal/chat"
	"github.com/wecom-home-ops/wecom-home-ops/internal/config"
	"github.com/wecom-home-ops/wecom-home-ops/internal/inbox"
	"github.com/wecom-home-ops/wecom-home-ops/internal/schedule"
	"github.com/wecom-home-ops/wecom-home-ops/internal/smartbot"
	"github.com/wecom-home-ops/wecom-home-ops/internal/wecom"
)

// smartbotSide is the smart bot (智能机器人) transport of one App: the long connection
// or the webhook, and the replier that answers its conversations.
type smartbotSide struct {
	ws      *smartbot.Client  // websocket mode
	hook    *smartbot.Webhook // webhook mode
	replier *smartbot.Replier
	done    chan struct{} // closed when ws.Run returned
	cancel  context.CancelFunc
}

// initSmartbot builds the smart bot side when wecom.smartbot is configured; nil otherwise.
func (a *App) initSmartbot(cfg *config.Config) (*smartbotSide, error) {
	sc := cfg.WeCom.SmartBot
	if !sc.Configured() {
		return nil, nil
	}
	log := a.log.Named("smartbot")
	// a.inbox is built after the smart bot side: look it up at each message.
	accept := func(ctx context.Context, m chat.Message) error { return a.inbox.Accept(ctx, m) }
	sb := &smartbotSide{}
	if sc.Webhook() {
		hook, err := smartbot.NewWebhook(smartbot.WebhookOptions{Token: sc.Token.Value(), EncodingAESKey: sc.EncodingAESKey.Value(),
			BotName: sc.Name, MaxClockSkew: cfg.WeCom.MaxClockSkew.Std(), HTTPClient: a.o.WeComHTTPClient, Logger: log, Now: a.o.Now}, accept)
		if err != nil {
			return nil, err
		}
		sb.hook = hook
	} else {
		sb.ws = smartbot.New(smartbot.Options{URL: sc.WSURL, BotID: sc.BotID, Secret: sc.Secret.Value(), BotName: sc.Name,
			HTTPClient: a.o.WeComHTTPClient, Logger: log, Now: a.o.Now, Backoff: a.o.SmartbotBackoff,
			Heartbeat: a.o.SmartbotHeartbeat}, accept)
	}
	// The documented per-conversation limit (30 a minute, 1000 an hour) through the same
	// budget as the app's sends.
	// Its own instance: the smart bot's conversations are not the app's members.
	clock := a.o.Clock
	if clock == nil {
		clock = schedule.SystemClock{}
	}
	budget := wecom.NewBudget(cfg.RateLimit.PerMember.N, cfg.RateLimit.PerMember.Per, clock)
	sb.replier = smartbot.NewReplier(sb.ws, sb.hook, cfg.Language, budget, log.Named("reply"))
	return sb, nil
}

// mount serves the webhook on its callback path (webhook mode only).
func (sb *smartbotSide) mount(a *App, path string) {
	if sb == nil || sb.hook == nil {
		return
	}
	a.router.Method(http.MethodGet, path, sb.hook)
	a.router.Method(http.MethodPost, path, sb.hook)
}

// run keeps the long connection up until stop: not only until ctx ends, since the
// replies of the messages still in the inbox at shutdown go out on it.
func (sb *smartbotSide) run(ctx context.Context, log *zap.Logger) {
	if sb == nil || sb.ws == nil {
		return
	}
	ctx, sb.cancel = context.WithCancel(context.WithoutCancel(ctx))
	sb.done = make(chan struct{})
	go func() {
		defer close(sb.done)
		if err := sb.ws.Run(ctx); err != nil {
			log.Error("smartbot connection stopped", zap.Error(err))
		}
	}()
}

// stop closes the long connection and waits for run to end.
func (sb *smartbotSide) stop() {
	if sb != nil && sb.done != nil {
		sb.cancel()
		<-sb.done
	}
}

// SmartbotStatus is the connection's state for /status; ok is false without a long
// connection.
func (a *App) SmartbotStatus() (smartbot.Status, bool) {
	if a.sb == nil || a.sb.ws == nil {
		return smartbot.Status{}, false
	}
	return a.sb.ws.Status(), true
}

// smartbotReport is the smartbot part of /status.
type smartbotReport struct {
	Mode       string     `json:"mode"`
	State      string     `json:"state,omitempty"`
	Since      *time.Time `json:"since,omitempty"`
	Problem    string     `json:"problem,omitempty"`
	Reconnects int        `json:"reconnects"`
}

func (a *App) smartbotReport() *smartbotReport {
	if a.sb == nil {
		return nil
	}
	if a.sb.hook != nil {
		return &smartbotReport{Mode: "webhook"}
	}
	st := a.sb.ws.Status()
	return &smartbotReport{Mode: "websocket", State: st.State, Since: timePtr(st.Since), Problem: st.Problem, Reconnects: st.Reconnects}
}

// smartbotRouter sends the replies to smart-bot messages (and the follow-ups of their
// actions) through the smart bot, and everything else to next.
type smartbotRouter struct {
	sb   chat.Replier
	next chat.Replier // nil with a smart bot alone
}

func (r smartbotRouter) Reply(ctx context.Context, user string, rep chat.Reply) error {
	if strings.HasPrefix(chat.SourceFrom(ctx), smartbot.SourcePrefix) || r.next == nil {
		return r.sb.Reply(ctx, user, rep)
	}
	return r.next.Reply(ctx, user, rep)
}

// finishJournal tells the webhook when a message's replies are all out, so that its
// stream can be closed.
type finishJournal struct {
	inbox.Journal
	hook *smartbot.Webhook
}

func (j finishJournal) Finish(ctx context.Context, id string) error {
	err := j.Journal.Finish(ctx, id)
	j.hook.Finished(id)
	return err
}
