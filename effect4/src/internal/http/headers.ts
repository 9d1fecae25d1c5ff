import * as Context from "effect/Context"
import * as HttpRouter from "effect/http/HttpRouter"
import * as Option from "effect/Option"

export * from "../../../../src/internal/http/headerNames.js"

/** @internal the matched route's path, with a mount prefix put back, when the request runs inside a router */
export const routeOf = (context: Context.Context<never>): string | undefined => {
  const routeContext = Context.getOption(context, HttpRouter.RouteContext)
  if (Option.isNone(routeContext)) return undefined
  const route = routeContext.value.route
  const path: string = route.path
  if (Option.isSome(route.prefix) && !path.startsWith(route.prefix.value)) {
    return path === "/" ? route.prefix.value : route.prefix.value + path
  }
  return path
}
