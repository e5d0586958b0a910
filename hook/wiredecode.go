package hook

import "encoding/json"

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
func decodeLogEvent(r *reader, body []byte) LogEvent {
	var le LogEvent
	p := new(eventParts)
	r.obj("", func(key string) {
		switch key {
		case "uuid":
			r.text(&le.UUID, "uuid")
		case "published":
			var s string
			r.text(&s, "published")
			if s != "" {
				if t, err := parseTime(s); err == nil {
					le.Published = t
				} else {
					r.note("published", "not an RFC 3339 time")
				}
			}
		case "eventType":
			r.text(&le.EventType, "eventType")
		case "version":
			r.text(&le.Version, "version")
		case "severity":
			r.text(&le.Severity, "severity")
		case "legacyEventType":
			r.text(&le.LegacyEventType, "legacyEventType")
		case "displayMessage":
			r.text(&le.DisplayMessage, "displayMessage")
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
			if r.obj("outcome", func(key string) {
				switch key {
				case "result":
					r.text(&p.outcome.Result, "result")
				case "reason":
					r.text(&p.outcome.Reason, "reason")
				default:
					r.value()
				}
			}) {
				le.Outcome = &p.outcome
			}
		case "target":
			le.Target = nil
			r.arr("target", func() {
				var t Target
				if decodeTarget(r, body, &t) {
					if le.Target == nil {
						le.Target = make([]Target, 0, 4)
					}
					le.Target = append(le.Target, t)
				}
			})
		case "transaction":
			if r.obj("transaction", func(key string) {
				switch key {
				case "type":
					r.text(&p.transaction.Type, "type")
				case "id":
					r.text(&p.transaction.ID, "id")
				case "detail":
					r.raw(&p.transaction.Detail, body)
				default:
					r.value()
				}
			}) {
				le.Transaction = &p.transaction
			}
		case "debugContext":
			if r.obj("debugContext", func(key string) {
				if key != "debugData" {
					r.value()
					return
				}
				r.obj("debugData", func(key string) {
					if p.debug.DebugData == nil {
						p.debug.DebugData = make(DebugData, 8)
					}
					var v json.RawMessage
					r.raw(&v, body)
					if v != nil {
						p.debug.DebugData[key] = v
					}
				})
			}) {
				le.DebugContext = &p.debug
			}
		case "authenticationContext":
			if decodeAuth(r, p) {
				le.AuthenticationContext = &p.auth
			}
		case "securityContext":
			if r.obj("securityContext", func(key string) {
				s := &p.security
				switch key {
				case "asNumber":
					if r.integer(&p.asNumber, "asNumber") {
						s.ASNumber = &p.asNumber
					}
				case "asOrg":
					r.text(&s.ASOrg, "asOrg")
				case "isp":
					r.text(&s.ISP, "isp")
				case "domain":
					r.text(&s.Domain, "domain")
				case "isProxy":
					r.boolean(&s.IsProxy, &p.isProxy, "isProxy")
				default:
					r.value()
				}
			}) {
				le.SecurityContext = &p.security
			}
		case "request":
			if r.obj("request", func(key string) {
				if key != "ipChain" {
					r.value()
					return
				}
				r.arr("ipChain", func() {
					var hop IPChainEntry
					if decodeHop(r, &hop) {
						p.request.IPChain = append(p.request.IPChain, hop)
					}
				})
			}) {
				le.Request = &p.request
			}
		default:
			r.value()
		}
	})
	return le
}

func decodeActor(r *reader, body []byte, a *Actor) bool {
	return r.obj("actor", func(key string) {
		switch key {
		case "id":
			r.text(&a.ID, "id")
		case "type":
			r.text(&a.Type, "type")
		case "alternateId":
			r.text(&a.AlternateID, "alternateId")
		case "displayName":
			r.text(&a.DisplayName, "displayName")
		case "detailEntry":
			r.raw(&a.DetailEntry, body)
		default:
			r.value()
		}
	})
}

func decodeTarget(r *reader, body []byte, t *Target) bool {
	return r.obj("", func(key string) {
		switch key {
		case "id":
			r.text(&t.ID, "id")
		case "type":
			r.text(&t.Type, "type")
		case "alternateId":
			r.text(&t.AlternateID, "alternateId")
		case "displayName":
			r.text(&t.DisplayName, "displayName")
		case "detailEntry":
			r.raw(&t.DetailEntry, body)
		case "changeDetails":
			cd := new(ChangeDetails)
			if r.obj("changeDetails", func(key string) {
				switch key {
				case "from":
					r.raw(&cd.From, body)
				case "to":
					r.raw(&cd.To, body)
				default:
					r.value()
				}
			}) {
				t.ChangeDetails = cd
			}
		default:
			r.value()
		}
	})
}

func decodeClient(r *reader, p *eventParts) bool {
	c := &p.client
	return r.obj("client", func(key string) {
		switch key {
		case "userAgent":
			if r.obj("userAgent", func(key string) {
				switch key {
				case "rawUserAgent":
					r.text(&p.userAgent.RawUserAgent, "rawUserAgent")
				case "os":
					r.text(&p.userAgent.OS, "os")
				case "browser":
					r.text(&p.userAgent.Browser, "browser")
				default:
					r.value()
				}
			}) {
				c.UserAgent = &p.userAgent
			}
		case "zone":
			r.text(&c.Zone, "zone")
		case "device":
			r.text(&c.Device, "device")
		case "id":
			r.text(&c.ID, "id")
		case "ipAddress":
			r.text(&c.IPAddress, "ipAddress")
		case "geographicalContext":
			if decodeGeo(r, &p.geo, &p.geolocation) {
				c.GeographicalContext = &p.geo
			}
		default:
			r.value()
		}
	})
}

func decodeGeo(r *reader, g *GeographicalContext, loc *Geolocation) bool {
	return r.obj("geographicalContext", func(key string) {
		switch key {
		case "city":
			r.text(&g.City, "city")
		case "state":
			r.text(&g.State, "state")
		case "country":
			r.text(&g.Country, "country")
		case "postalCode":
			r.text(&g.PostalCode, "postalCode")
		case "geolocation":
			if r.obj("geolocation", func(key string) {
				switch key {
				case "lat":
					r.float(&loc.Lat, "lat")
				case "lon":
					r.float(&loc.Lon, "lon")
				default:
					r.value()
				}
			}) {
				g.Geolocation = loc
			}
		default:
			r.value()
		}
	})
}

func decodeHop(r *reader, hop *IPChainEntry) bool {
	return r.obj("", func(key string) {
		switch key {
		case "ip":
			r.text(&hop.IP, "ip")
		case "version":
			r.text(&hop.Version, "version")
		case "source":
			r.text(&hop.Source, "source")
		case "geographicalContext":
			g := new(struct {
				geo GeographicalContext
				loc Geolocation
			})
			if decodeGeo(r, &g.geo, &g.loc) {
				hop.GeographicalContext = &g.geo
			}
		default:
			r.value()
		}
	})
}

func decodeDevice(r *reader, body []byte, p *eventParts) bool {
	d, b := &p.device, &p.deviceBools
	return r.obj("device", func(key string) {
		switch key {
		case "id":
			r.text(&d.ID, "id")
		case "name":
			r.text(&d.Name, "name")
		case "os_platform":
			r.text(&d.OSPlatform, "os_platform")
		case "os_version":
			r.text(&d.OSVersion, "os_version")
		case "managed":
			r.boolean(&d.Managed, &b[0], "managed")
		case "registered":
			r.boolean(&d.Registered, &b[1], "registered")
		case "jailbreak":
			r.boolean(&d.JailBreak, &b[2], "jailbreak")
		case "secure_hardware_present":
			r.boolean(&d.SecureHardwarePresent, &b[3], "secure_hardware_present")
		case "device_integrator":
			r.raw(&d.DeviceIntegrator, body)
		case "disk_encryption_type":
			r.text(&d.DiskEncryptionType, "disk_encryption_type")
		case "screen_lock_type":
			r.text(&d.ScreenLockType, "screen_lock_type")
		default:
			r.value()
		}
	})
}

func decodeAuth(r *reader, p *eventParts) bool {
	a := &p.auth
	return r.obj("authenticationContext", func(key string) {
		switch key {
		case "authenticationProvider":
			r.text(&a.AuthenticationProvider, "authenticationProvider")
		case "credentialProvider":
			r.text(&a.CredentialProvider, "credentialProvider")
		case "credentialType":
			r.text(&a.CredentialType, "credentialType")
		case "externalSessionId":
			r.text(&a.ExternalSessionID, "externalSessionId")
		case "interface":
			r.text(&a.Interface, "interface")
		case "authenticationStep":
			var n int64
			if r.integer(&n, "authenticationStep") {
				a.AuthenticationStep = int(n)
			}
		case "issuer":
			if r.obj("issuer", func(key string) {
				switch key {
				case "id":
					r.text(&p.issuer.ID, "id")
				case "type":
					r.text(&p.issuer.Type, "type")
				default:
					r.value()
				}
			}) {
				a.Issuer = &p.issuer
			}
		default:
			r.value()
		}
	})
}
