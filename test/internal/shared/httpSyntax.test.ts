import { describe, expect, it } from "@effect/vitest"
import { isCredentialHeader, isHeaderName, redactedHeaderValue } from "../../../src/internal/shared/httpSyntax.js"

describe("HTTP header names", () => {
  it("a header name is an RFC 9110 token", () => {
    for (const name of ["x-user-routing", "X_Tenant", "a.b!#$%&'*+^`|~"]) expect(isHeaderName(name)).toBe(true)
    for (const name of ["", "x routing", "x:y", "é", "x\u200b"]) expect(isHeaderName(name)).toBe(false)
  })

  it("headers that may carry a credential, in any case; their value is shown by size only", () => {
    const credentials = [
      "authorization",
      "Proxy-Authorization",
      "cookie",
      "set-cookie",
      "x-api-key",
      "X-Auth-Token",
      "x-client-secret",
      "x-db-password",
      "apikey",
      "KEY"
    ]
    for (const name of credentials) expect(isCredentialHeader(name)).toBe(true)
    for (const name of ["x-user-routing", "x-tenant", "accept", "x-request-id"]) {
      expect(isCredentialHeader(name)).toBe(false)
    }
    expect(redactedHeaderValue("APIKEY-SECRET")).toBe("<redacted, 13 bytes>")
  })
})
