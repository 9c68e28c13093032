package restapi

import (
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/multilink/multilink/api"
	"github.com/multilink/multilink/internal/errkind"
)

// defaultEvents is how many events GET /v1/client/events returns unless
// limit says otherwise.
const defaultEvents = 100

// links: GET /v1/client/links[?bond=bond0], every probed link's figures.
func (a *handler) links(c *gin.Context) {
	bond, ok := c.GetQuery("bond")
	if ok {
		if err := api.CheckIfName("bond", bond); err != nil {
			a.fail(c, "list links", err)
			return
		}
	}
	out := []api.LinkStats{}
	for _, l := range a.d.Links.Links() {
		if !ok || l.Bond == bond {
			out = append(out, l)
		}
	}
	c.JSON(http.StatusOK, out)
}

// events: GET /v1/client/events[?bond=bond0][&limit=100], oldest first;
// with Accept: text/event-stream, those and then each new one as it comes
// (streamEvents).
func (a *handler) events(c *gin.Context) {
	bond, ok := c.GetQuery("bond")
	if ok {
		if err := api.CheckIfName("bond", bond); err != nil {
			a.fail(c, "list events", err)
			return
		}
	}
	limit := defaultEvents
	if s, ok := c.GetQuery("limit"); ok {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > api.MaxEvents {
			a.fail(c, "list events", errkind.Invalid("limit", "%q is not a number in 1..%d", s, api.MaxEvents))
			return
		}
		limit = n
	}
	if wantsStream(c.Request) {
		a.streamEvents(c, bond, limit)
		return
	}
	ev := a.d.Failover.Events(bond, limit)
	if ev == nil {
		ev = []api.Event{}
	}
	c.JSON(http.StatusOK, ev)
}

// policy: GET /v1/client/policy/{bond_interface}.
func (a *handler) policy(c *gin.Context) {
	name, err := ifName(c, "bond_interface")
	if err != nil {
		a.fail(c, "get failover policy", err)
		return
	}
	st, err := a.d.Failover.Policy(c.Request.Context(), name)
	if err != nil {
		a.fail(c, "get failover policy of "+name, err)
		return
	}
	c.JSON(http.StatusOK, st)
}

// setPolicy: PUT /v1/client/policy/{bond_interface} with any of pin,
// priority, policy (a subset of the thresholds), probe_interval_ms,
// backup_interval_ms. 200 with the state after.
func (a *handler) setPolicy(c *gin.Context) {
	name, err := ifName(c, "bond_interface")
	if err != nil {
		a.fail(c, "set failover policy", err)
		return
	}
	body, err := a.readBody(c)
	if err != nil {
		a.fail(c, "set failover policy of "+name, err)
		return
	}
	st, err := a.d.Failover.SetPolicy(c.Request.Context(), name, body)
	if err != nil {
		a.fail(c, "set failover policy of "+name, err)
		return
	}
	c.JSON(http.StatusOK, st)
}
