// Where the user context may go by default, and fetch's redirects followed here so that each
// redirect target is decided anew.

/**
 * IPv4 literals of loopback, private (RFC 1918) and link-local networks, and the unspecified
 * address `0.0.0.0` (a connection to it reaches this host: a server's "listening on" address).
 */
const privateIpv4 = (host: string): boolean => {
  const match = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(host)
  if (match === null) return false
  const [a, b] = [Number(match[1]), Number(match[2])]
  return host === "0.0.0.0" || a === 127 || a === 10 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168) ||
    (a === 169 && b === 254)
}

/**
 * IPv6 literals (as `URL.hostname` writes them, in brackets) of loopback, unique local and
 * link-local addresses, and the unspecified address `::` (this host, as `0.0.0.0`).
 */
const privateIpv6 = (host: string): boolean => {
  if (!host.startsWith("[")) return false
  const address = host.slice(1, -1).toLowerCase()
  return address === "::1" || address === "::" || /^f[cd][0-9a-f]{0,2}:/.test(address) ||
    /^fe[89ab][0-9a-f]?:/.test(address)
}

/** Names that only resolve inside a network: cluster services, `.internal`, `.local`, `.localhost`. */
const privateName = (host: string): boolean =>
  host === "localhost" || (!host.includes(".") && !host.startsWith("[")) ||
  /\.(localhost|local|internal|svc|home\.arpa)$/.test(host)

/** @internal the default destination predicate: private addresses and names that resolve only inside a network */
export const privateDestination = (url: URL): boolean => {
  const host = url.hostname.toLowerCase().replace(/\.$/, "")
  return privateIpv4(host) || privateIpv6(host) || privateName(host)
}

/** fetch's limit, which this follower keeps. */
const MAX_REDIRECTS = 20

const isRedirect = (status: number): boolean =>
  status === 301 || status === 302 || status === 303 || status === 307 || status === 308

/** Headers fetch drops on a cross-origin redirect (undici): credentials do not follow to another origin. */
const crossOriginDropped = ["authorization", "proxy-authorization", "cookie"]
/** Headers that describe a request body, dropped when a redirect turns the request into a GET. */
const bodyHeaders = ["content-type", "content-length", "content-encoding", "content-language", "content-location"]

/**
 * @internal
 * A `fetch` that follows redirects itself when asked to follow them (fetch's default), as fetch
 * does (method and body rules, credentials dropped across origins, at most 20), except that the
 * headers `userHeaders` are dropped from the first redirect target `allowed` refuses on. Other
 * redirect modes go to `base` unchanged.
 */
export const redirectFollowingFetch = (
  base: typeof globalThis.fetch,
  userHeaders: ReadonlyArray<string>,
  allowed: (url: URL) => boolean
): typeof globalThis.fetch =>
async (input, init) => {
  if (init?.redirect !== undefined && init.redirect !== "follow") return base(input, init)
  // A request without user context is fetch's business alone.
  const sent = new Headers(init?.headers)
  if (!userHeaders.some((name) => sent.has(name))) return base(input, init)
  let url = new URL(input instanceof Request ? input.url : String(input))
  let current: RequestInit = { ...init, redirect: "manual" }
  for (let redirects = 0;; redirects++) {
    const response = await base(url, current)
    const location = response.headers.get("location")
    if (!isRedirect(response.status) || location === null) return response
    await response.body?.cancel().catch(() => {})
    if (redirects === MAX_REDIRECTS) throw new TypeError("fetch failed: redirect count exceeded")
    let next: URL
    try {
      next = new URL(location, url)
    } catch {
      throw new TypeError("fetch failed: the redirect location is not a URL")
    }
    if (next.protocol !== "http:" && next.protocol !== "https:") {
      throw new TypeError("fetch failed: a redirect to a scheme other than http or https")
    }
    const headers = new Headers(current.headers)
    let method = (current.method ?? "GET").toUpperCase()
    let body: RequestInit["body"] = current.body ?? null
    if (
      (response.status === 303 && method !== "GET" && method !== "HEAD") ||
      ((response.status === 301 || response.status === 302) && method === "POST")
    ) {
      method = "GET"
      body = null
      for (const name of bodyHeaders) headers.delete(name)
    } else if (body instanceof ReadableStream) {
      throw new TypeError("fetch failed: a streamed body cannot be sent again to a redirect target")
    }
    if (next.origin !== url.origin) { for (const name of crossOriginDropped) headers.delete(name) }
    if (!allowed(next)) { for (const name of userHeaders) headers.delete(name) }
    const { duplex: _, ...rest } = current as RequestInit & { readonly duplex?: string }
    current = { ...rest, method, headers, body }
    url = next
  }
}
