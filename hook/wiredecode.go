package hook

import (
	"encoding/json"

	"github.com/hookd/hookd/internal/jsonscan"
)

// This file fills the wire types from a reader. Unknown keys are skipped, null leaves a field
// empty, and a value of another type than documented is skipped and reported once.

// eventParts holds every part a LogEvent may point to, so that decoding one event allocates
// them together instead of one by one.
type eventParts struct {
	actor       Actor
	client      Client
	userAgent   UserAgent
	geo         GeographicalContext
	geolocation Geolocation
	device      Device
	deviceBools [4]bool
	outcome     Outcome
	transaction Transaction
	debug       DebugContext
	auth        AuthenticationContext
	issuer      Issuer
	security    SecurityContext
	asNumber    int64
	isProxy     bool
	request     Request
}

// decodeLogEvent reads one event object. body is the same input as r.s, as bytes, so raw
// parts can be kept without copying.
func decodeLogEvent(r *jsonscan.Reader, body []byte) LogEvent {
	var le LogEvent
	p := new(eventParts)
	r.Obj("", func(key string) {
		switch key {
		case "uuid":
			r.Text(&le.UUID, "uuid")
		case "published":
			var s string
			r.Text(&s, "published")
			if s != "" {
				if t, err := parseTime(s); err == nil {
					le.Published = t
				} else {
					r.Note("published", "not an RFC 3339 time")
				}
			}
		case "eventType":
			r.Text(&le.EventType, "eventType")
		case "version":
			r.Text(&le.Version, "version")
		case "severity":
			r.Text(&le.Severity, "severity")
		case "legacyEventType":
			r.Text(&le.LegacyEventType, "legacyEventType")
		case "displayMessage":
			r.Text(&le.DisplayMessage, "displayMessage")
		case "actor":
			if decodeActor(r, body, &p.actor) {
				le.Actor = &p.actor
			}
		case "client":
			if decodeClient(r, p) {
				le.Client = &p.client
			}
		case "device":
			if decodeDevice(r, body, p) {
				le.Device = &p.device
			}
		case "outcome":
			if decodeOutcome(r, &p.outcome) {
				le.Outcome = &p.outcome
			}
		case "target":
			le.Target = decodeTargets(r, body)
		case "transaction":
			if decodeTransaction(r, body, &p.transaction) {
				le.Transaction = &p.transaction
			}
		case "debugContext":
			if decodeDebug(r, body, &p.debug) {
				le.DebugContext = &p.debug
			}
		case "authenticationContext":
			if decodeAuth(r, p) {
				le.AuthenticationContext = &p.auth
			}
		case "securityContext":
			if decodeSecurity(r, p) {
				le.SecurityContext = &p.security
			}
		case "request":
			if decodeRequest(r, &p.request) {
				le.Request = &p.request
			}
		default:
			r.Value()
		}
	})
	return le
}

func decodeActor(r *jsonscan.Reader, body []byte, a *Actor) bool {
	return r.Obj("actor", func(key string) {
		switch key {
		case "id":
			r.Text(&a.ID, "id")
		case "type":
			r.Text(&a.Type, "type")
		case "alternateId":
			r.Text(&a.AlternateID, "alternateId")
		case "displayName":
			r.Text(&a.DisplayName, "displayName")
		case "detailEntry":
			r.Raw(&a.DetailEntry, body)
		default:
			r.Value()
		}
	})
}

func decodeTarget(r *jsonscan.Reader, body []byte, t *Target) bool {
	return r.Obj("", func(key string) {
		switch key {
		case "id":
			r.Text(&t.ID, "id")
		case "type":
			r.Text(&t.Type, "type")
		case "alternateId":
			r.Text(&t.AlternateID, "alternateId")
		case "displayName":
			r.Text(&t.DisplayName, "displayName")
		case "detailEntry":
			r.Raw(&t.DetailEntry, body)
		case "changeDetails":
			cd := new(ChangeDetails)
			if r.Obj("changeDetails", func(key string) {
				switch key {
				case "from":
					r.Raw(&cd.From, body)
				case "to":
					r.Raw(&cd.To, body)
				default:
					r.Value()
				}
			}) {
				t.ChangeDetails = cd
			}
		default:
			r.Value()
		}
	})
}

func decodeClient(r *jsonscan.Reader, p *eventParts) bool {
	c := &p.client
	return r.Obj("client", func(key string) {
		switch key {
		case "userAgent":
			if r.Obj("userAgent", func(key string) {
				switch key {
				case "rawUserAgent":
					r.Text(&p.userAgent.RawUserAgent, "rawUserAgent")
				case "os":
					r.Text(&p.userAgent.OS, "os")
				case "browser":
					r.Text(&p.userAgent.Browser, "browser")
				default:
					r.Value()
				}
			}) {
				c.UserAgent = &p.userAgent
			}
		case "zone":
			r.Text(&c.Zone, "zone")
		case "device":
			r.Text(&c.Device, "device")
		case "id":
			r.Text(&c.ID, "id")
		case "ipAddress":
			r.Text(&c.IPAddress, "ipAddress")
		case "geographicalContext":
			if decodeGeo(r, &p.geo, &p.geolocation) {
				c.GeographicalContext = &p.geo
			}
		default:
			r.Value()
		}
	})
}

func decodeGeo(r *jsonscan.Reader, g *GeographicalContext, loc *Geolocation) bool {
	return r.Obj("geographicalContext", func(key string) {
		switch key {
		case "city":
			r.Text(&g.City, "city")
		case "state":
			r.Text(&g.State, "state")
		case "country":
			r.Text(&g.Country, "country")
		case "postalCode":
			r.Text(&g.PostalCode, "postalCode")
		case "geolocation":
			if r.Obj("geolocation", func(key string) {
				switch key {
				case "lat":
					r.Float(&loc.Lat, "lat")
				case "lon":
					r.Float(&loc.Lon, "lon")
				default:
					r.Value()
				}
			}) {
				g.Geolocation = loc
			}
		default:
			r.Value()
		}
	})
}

func decodeHop(r *jsonscan.Reader, hop *IPChainEntry) bool {
	return r.Obj("", func(key string) {
		switch key {
		case "ip":
			r.Text(&hop.IP, "ip")
		case "version":
			r.Text(&hop.Version, "version")
		case "source":
			r.Text(&hop.Source, "source")
		case "geographicalContext":
			g := new(struct {
				geo GeographicalContext
				loc Geolocation
			})
			if decodeGeo(r, &g.geo, &g.loc) {
				hop.GeographicalContext = &g.geo
			}
		default:
			r.Value()
		}
	})
}

func decodeDevice(r *jsonscan.Reader, body []byte, p *eventParts) bool {
	d, b := &p.device, &p.deviceBools
	return r.Obj("device", func(key string) {
		switch key {
		case "id":
			r.Text(&d.ID, "id")
		case "name":
			r.Text(&d.Name, "name")
		case "os_platform":
			r.Text(&d.OSPlatform, "os_platform")
		case "os_version":
			r.Text(&d.OSVersion, "os_version")
		case "managed":
			r.Boolean(&d.Managed, &b[0], "managed")
		case "registered":
			r.Boolean(&d.Registered, &b[1], "registered")
		case "jailbreak":
			r.Boolean(&d.JailBreak, &b[2], "jailbreak")
		case "secure_hardware_present":
			r.Boolean(&d.SecureHardwarePresent, &b[3], "secure_hardware_present")
		case "device_integrator":
			r.Raw(&d.DeviceIntegrator, body)
		case "disk_encryption_type":
			r.Text(&d.DiskEncryptionType, "disk_encryption_type")
		case "screen_lock_type":
			r.Text(&d.ScreenLockType, "screen_lock_type")
		default:
			r.Value()
		}
	})
}

func decodeAuth(r *jsonscan.Reader, p *eventParts) bool {
	a := &p.auth
	return r.Obj("authenticationContext", func(key string) {
		switch key {
		case "authenticationProvider":
			r.Text(&a.AuthenticationProvider, "authenticationProvider")
		case "credentialProvider":
			r.Text(&a.CredentialProvider, "credentialProvider")
		case "credentialType":
			r.Text(&a.CredentialType, "credentialType")
		case "externalSessionId":
			r.Text(&a.ExternalSessionID, "externalSessionId")
		case "interface":
			r.Text(&a.Interface, "interface")
		case "authenticationStep":
			var n int64
			if r.Integer(&n, "authenticationStep") {
				a.AuthenticationStep = int(n)
			}
		case "issuer":
			if r.Obj("issuer", func(key string) {
				switch key {
				case "id":
					r.Text(&p.issuer.ID, "id")
				case "type":
					r.Text(&p.issuer.Type, "type")
				default:
					r.Value()
				}
			}) {
				a.Issuer = &p.issuer
			}
		default:
			r.Value()
		}
	})
}

func decodeOutcome(r *jsonscan.Reader, o *Outcome) bool {
	return r.Obj("outcome", func(key string) {
		switch key {
		case "result":
			r.Text(&o.Result, "result")
		case "reason":
			r.Text(&o.Reason, "reason")
		default:
			r.Value()
		}
	})
}

func decodeTargets(r *jsonscan.Reader, body []byte) []Target {
	var out []Target
	r.Arr("target", func() {
		var t Target
		if decodeTarget(r, body, &t) {
			if out == nil {
				out = make([]Target, 0, 4)
			}
			out = append(out, t)
		}
	})
	return out
}

func decodeTransaction(r *jsonscan.Reader, body []byte, t *Transaction) bool {
	return r.Obj("transaction", func(key string) {
		switch key {
		case "type":
			r.Text(&t.Type, "type")
		case "id":
			r.Text(&t.ID, "id")
		case "detail":
			r.Raw(&t.Detail, body)
		default:
			r.Value()
		}
	})
}

func decodeDebug(r *jsonscan.Reader, body []byte, d *DebugContext) bool {
	return r.Obj("debugContext", func(key string) {
		if key != "debugData" {
			r.Value()
			return
		}
		r.Obj("debugData", func(key string) {
			if d.DebugData == nil {
				d.DebugData = make(DebugData, 8)
			}
			var v json.RawMessage
			r.Raw(&v, body)
			if v != nil {
				d.DebugData[key] = v
			}
		})
	})
}

func decodeSecurity(r *jsonscan.Reader, p *eventParts) bool {
	s := &p.security
	return r.Obj("securityContext", func(key string) {
		switch key {
		case "asNumber":
			if r.Integer(&p.asNumber, "asNumber") {
				s.ASNumber = &p.asNumber
			}
		case "asOrg":
			r.Text(&s.ASOrg, "asOrg")
		case "isp":
			r.Text(&s.ISP, "isp")
		case "domain":
			r.Text(&s.Domain, "domain")
		case "isProxy":
			r.Boolean(&s.IsProxy, &p.isProxy, "isProxy")
		default:
			r.Value()
		}
	})
}

func decodeRequest(r *jsonscan.Reader, req *Request) bool {
	return r.Obj("request", func(key string) {
		if key != "ipChain" {
			r.Value()
			return
		}
		r.Arr("ipChain", func() {
			var hop IPChainEntry
			if decodeHop(r, &hop) {
				req.IPChain = append(req.IPChain, hop)
			}
		})
	})
}
