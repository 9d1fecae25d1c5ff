/** @internal an HTTP field name: RFC 9110 §5.6.2 `token` */
export const isHeaderName = (name: string): boolean => /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)

/** @internal an HTTP field value as Node's http module accepts it: no CR, LF or other controls */
export const isHeaderValue = (value: string): boolean => /^[\t\x20-\x7e\x80-\xff]*$/.test(value)

const credentialHeaders: ReadonlySet<string> = new Set(["authorization", "proxy-authorization", "cookie", "set-cookie"])

/**
 * @internal
 * Whether a header may carry a credential, so its value is never printed: the authorization and
 * cookie headers, and any name containing `key`, `token`, `secret` or `password` (case-insensitive).
 */
export const isCredentialHeader = (name: string): boolean => {
  const lower = name.toLowerCase()
  return credentialHeaders.has(lower) || /key|token|secret|password/.test(lower)
}

/** @internal what is printed instead of a credential header's value: its size only */
export const redactedHeaderValue = (value: string): string => `<redacted, ${Buffer.byteLength(value, "latin1")} bytes>`
