/** @internal an HTTP field name: RFC 9110 §5.6.2 `token` */
export const isHeaderName = (name: string): boolean => /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)

/** @internal an HTTP field value as Node's http module accepts it: no CR, LF or other controls */
export const isHeaderValue = (value: string): boolean => /^[\t\x20-\x7e\x80-\xff]*$/.test(value)
