/**
 * AuthorizationPolicy and PeerAuthentication as the destination's sidecar enforces them. istiod turns every
 * AuthorizationPolicy that selects a workload into Envoy RBAC filters on its inbound listener: CUSTOM first (an
 * ext_authz filter), then DENY, then ALLOW; AUDIT only logs. This module compiles the same decision once per
 * workload and answers it per request; the data plane asks it after routing picked the endpoint, with the request
 * as the callee's proxy receives it (rewritten path and host, header operations applied).
 */
import type {
  AuthorizationCondition,
  AuthorizationOperation,
  AuthorizationPolicy,
  AuthorizationRule,
  AuthorizationSource,
  LoadedObject,
  MutualTlsMode,
  PeerAuthentication,
  PolicyTargetReference,
  RbacShadowResult,
  WorkloadSelector,
} from '../model';
import { ROOT_NAMESPACE } from '../istio';
import type { AuthorizationConnection, AuthorizationDecision, AuthorizationRequest, Authorizer, PolicyTarget } from '../config/authorizer';

// The interfaces the data plane asks (and ALLOW_ALL) are the route model's (../config/authorizer.ts); podPort is vocabulary.
export type { AuthorizationConnection, AuthorizationDecision, AuthorizationRequest, Authorizer, PolicyTarget } from '../config/authorizer';
export { ALLOW_ALL } from '../config/authorizer';
export { podPort } from '../istio';

/**
 * The principal the callee's sidecar sees for a caller: every local workload has a sidecar, so callers use Istio's
 * automatic mTLS unless the PeerAuthentication in force on the callee's port disables it (then plaintext, no principal).
 */
export function peerPrincipal(authorizer: Authorizer, target: PolicyTarget, port: number, callerPrincipal: string): string | undefined {
  return authorizer.mtlsMode(target, port) === 'DISABLE' ? undefined : callerPrincipal;
}

type Predicate = (request: AuthorizationRequest) => boolean;

interface CompiledRule {
  id: string;
  matches: Predicate;
  /** The rule as generated for a TCP filter chain. */
  matchesConnection: Predicate;
}

interface WorkloadPolicies {
  custom: CompiledRule[];
  deny: CompiledRule[];
  allow: CompiledRule[];
  /** True when at least one ALLOW policy selects the workload (even one with no rules: it then allows nothing). */
  hasAllow: boolean;
  /** Dry-run policies: the RBAC filters' shadow rules, evaluated and counted, never enforced. */
  shadowDeny?: CompiledRule[];
  shadowAllow?: CompiledRule[];
}

interface CompiledPolicy {
  namespace: string;
  selector: ReadonlyArray<[string, string]> | null;
  /** `targetRefs`, or the legacy single `targetRef`; null when neither is set. */
  targetRefs: readonly PolicyTargetReference[] | null;
  action: 'ALLOW' | 'DENY' | 'AUDIT' | 'CUSTOM';
  dryRun: boolean;
  rules: CompiledRule[];
}

/** The shadow rules' stat and metadata prefixes istiod sets (pilot/pkg/security/authz/model/model.go). */
export const DRY_RUN_ALLOW_PREFIX = 'istio_dry_run_allow_';
export const DRY_RUN_DENY_PREFIX = 'istio_dry_run_deny_';

/** `istio.io/dry-run` as istiod reads it (builder.go isDryRun): Go's strconv.ParseBool; anything else = enforced. */
function isDryRun(annotations: Readonly<Record<string, string>> | undefined): boolean {
  const value = annotations?.['istio.io/dry-run'];
  return value !== undefined && ['1', 't', 'T', 'TRUE', 'true', 'True'].includes(String(value));
}

/** Envoy keeps an RBAC filter's policies in a map ordered by name: the first matching name is the one reported. */
function byPolicyName(a: CompiledRule, b: CompiledRule): number {
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

type StringTest = (value: string) => boolean;

/**
 * Istio's string match for AuthorizationPolicy values: `*` = any non-empty value, `*suffix`, `prefix*`, else exact
 * (no regular expressions; pilot/pkg/security/authz/model StringMatcher).
 */
function stringTest(pattern: string, ignoreCase = false): StringTest {
  const p = ignoreCase ? pattern.toLowerCase() : pattern;
  const norm = ignoreCase ? (v: string) => v.toLowerCase() : (v: string) => v;
  if (p === '*') return (v) => v !== '';
  if (p.startsWith('*')) {
    const suffix = p.slice(1);
    return (v) => norm(v).endsWith(suffix);
  }
  if (p.endsWith('*')) {
    const prefix = p.slice(0, -1);
    return (v) => norm(v).startsWith(prefix);
  }
  return (v) => norm(v) === p;
}

function anyOf(patterns: string[], ignoreCase = false): StringTest {
  const tests = patterns.map((p) => stringTest(String(p), ignoreCase));
  return (v) => tests.some((t) => t(v));
}

/** A field with values and notValues: present values must match one, notValues must match none. */
function field(
  values: string[] | undefined,
  notValues: string[] | undefined,
  read: (r: AuthorizationRequest) => string | undefined,
  test: (patterns: string[]) => StringTest,
): Predicate[] {
  const predicates: Predicate[] = [];
  if (values && values.length > 0) {
    const t = test(values);
    predicates.push((r) => {
      const v = read(r);
      return v !== undefined && t(v);
    });
  }
  if (notValues && notValues.length > 0) {
    const t = test(notValues);
    predicates.push((r) => {
      const v = read(r);
      return v === undefined || !t(v);
    });
  }
  return predicates;
}

/** The namespace part of a SPIFFE-style principal (`<td>/ns/<ns>/sa/<sa>`). */
function principalNamespace(principal: string | undefined): string | undefined {
  if (!principal) return undefined;
  const match = /\/ns\/([^/]*)\//.exec(principal);
  return match ? match[1] : undefined;
}

const readPrincipal = (r: AuthorizationRequest) => r.principal;
const readNamespace = (r: AuthorizationRequest) => principalNamespace(r.principal);
const nothing = (): string | undefined => undefined;

/**
 * Header values are matched per comma-separated element, as the regex Istio generates for request.headers does
 * (`^v$|^v,.*|.*,v,.*|.*,v$`); `*` only asks for presence (Envoy present_match).
 */
function headerTest(patterns: string[]): StringTest {
  const presence = patterns.includes('*');
  const t = anyOf(patterns.filter((p) => p !== '*'));
  return (v) => presence || v.split(',').some(t);
}

/**
 * How a rule is generated. For a TCP port istiod cannot express HTTP-only attributes (hosts, methods, paths,
 * request principals, request.headers / request.auth.* conditions): in an ALLOW policy such a rule is dropped whole
 * (a smaller allow), in DENY, AUDIT and CUSTOM policies only the HTTP-only attribute is dropped (a wider deny).
 * istio/istio pilot/pkg/security/authz/model/model.go, `rule.checkError`.
 */
interface RuleMode {
  tcp: boolean;
  /** Set when the rule named an HTTP-only attribute while generated for TCP. */
  httpOnly: boolean;
}

const HTTP: RuleMode = { tcp: false, httpOnly: false };

/** An HTTP-only attribute's predicates: kept for HTTP, dropped (and noted) for TCP. */
function httpOnly(mode: RuleMode, predicates: Predicate[]): Predicate[] {
  if (!mode.tcp) return predicates;
  if (predicates.length > 0) mode.httpOnly = true;
  return [];
}

function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * `serviceAccounts` values, `<sa>` (the policy's namespace) or `<ns>/<sa>`, as istiod matches them against the peer's
 * SPIFFE URI (generator.go serviceAccountRegex: `spiffe://.+/ns/<ns>/(.+/|)sa/<sa>(/.+)?`).
 */
function serviceAccountTest(policyNamespace: string): (patterns: string[]) => StringTest {
  return (patterns) => {
    const res = patterns.map((value) => {
      const slash = value.indexOf('/');
      const [ns, sa] = slash < 0 ? [policyNamespace, value] : [value.slice(0, slash), value.slice(slash + 1)];
      return new RegExp(`^.+/ns/${escapeRegex(ns)}/(.+/|)sa/${escapeRegex(sa)}(/.+)?$`);
    });
    return (principal) => res.some((re) => re.test(principal));
  };
}

/** `trustDomains` values (generator.go srcTrustDomainGenerator): `*` any, `td` exact, one `*` inside a domain. */
function trustDomainTest(patterns: string[]): StringTest {
  const tests = patterns.map((value): StringTest => {
    if (value === '*') return () => true;
    if (!value.includes('*')) return (principal) => principal.startsWith(`${value}/`);
    const [before, after] = [value.slice(0, value.indexOf('*')), value.slice(value.indexOf('*') + 1)];
    const re = new RegExp(`^${escapeRegex(before)}[^/]*${escapeRegex(after)}/`);
    return (principal) => re.test(principal);
  });
  return (principal) => tests.some((t) => t(principal));
}

function compileSource(source: AuthorizationSource, mode: RuleMode, policyNamespace: string): Predicate[] {
  return [
    ...field(source.principals, source.notPrincipals, readPrincipal, (p) => anyOf(p)),
    ...field(source.namespaces, source.notNamespaces, readNamespace, (p) => anyOf(p)),
    ...field(source.serviceAccounts, source.notServiceAccounts, readPrincipal, serviceAccountTest(policyNamespace)),
    ...field(source.trustDomains, source.notTrustDomains, readPrincipal, trustDomainTest),
    // No JWT (RequestAuthentication) and no client addresses in the local mesh: these never match a value.
    ...httpOnly(
      mode,
      field(source.requestPrincipals, source.notRequestPrincipals, nothing, (p) => anyOf(p)),
    ),
    ...field(source.ipBlocks, source.notIpBlocks, nothing, (p) => anyOf(p)),
    ...field(source.remoteIpBlocks, source.notRemoteIpBlocks, nothing, (p) => anyOf(p)),
  ];
}

function portTest(patterns: string[]): StringTest {
  const ports = new Set(patterns.map((p) => String(p)));
  return (v) => ports.has(v);
}

function compileOperation(op: AuthorizationOperation, mode: RuleMode): Predicate[] {
  return [
    // Hosts are compared with the :authority header, ignoring case (Istio's host matcher).
    ...httpOnly(
      mode,
      field(
        op.hosts,
        op.notHosts,
        (r) => r.host,
        (p) => anyOf(p, true),
      ),
    ),
    ...field(op.ports, op.notPorts, (r) => String(r.port), portTest),
    ...httpOnly(
      mode,
      field(
        op.methods,
        op.notMethods,
        (r) => r.method,
        (p) => anyOf(p),
      ),
    ),
    ...httpOnly(
      mode,
      field(
        op.paths,
        op.notPaths,
        (r) => r.path,
        (p) => anyOf(p),
      ),
    ),
  ];
}

function compileCondition(condition: AuthorizationCondition, mode: RuleMode, policyNamespace: string): Predicate[] {
  const key = String(condition.key ?? '');
  const header = /^request\.headers\[(.+)\]$/.exec(key);
  if (header) {
    const name = header[1].toLowerCase();
    return httpOnly(
      mode,
      field(condition.values, condition.notValues, (r) => r.header(name), headerTest),
    );
  }
  if (key.startsWith('request.'))
    return httpOnly(
      mode,
      field(condition.values, condition.notValues, nothing, (p) => anyOf(p)),
    );
  switch (key) {
    case 'source.principal':
      return field(condition.values, condition.notValues, readPrincipal, (p) => anyOf(p));
    case 'source.namespace':
      return field(condition.values, condition.notValues, readNamespace, (p) => anyOf(p));
    case 'source.serviceAccount':
      return field(condition.values, condition.notValues, readPrincipal, serviceAccountTest(policyNamespace));
    case 'source.trustDomain':
      return field(condition.values, condition.notValues, readPrincipal, trustDomainTest);
    case 'destination.port':
      return field(condition.values, condition.notValues, (r) => String(r.port), portTest);
    default:
      // request.auth.* (no JWT here), source.ip, remote.ip, destination.ip, connection.sni: the attribute is
      // absent, so values never match and notValues always do (as Envoy evaluates a missing attribute).
      return field(condition.values, condition.notValues, nothing, (p) => anyOf(p));
  }
}

function all(predicates: Predicate[]): Predicate {
  return (r) => predicates.every((p) => p(r));
}

const never: Predicate = () => false;

/**
 * One rule: every present part must hold; the entries inside `from` (or `to`) are alternatives. For TCP, an ALLOW
 * rule that names an HTTP-only attribute matches nothing; other actions drop just that attribute (`RuleMode`).
 */
function compileRule(rule: AuthorizationRule, action: string, policyNamespace: string, tcp = false): Predicate {
  const mode: RuleMode = tcp ? { tcp: true, httpOnly: false } : HTTP;
  const parts: Predicate[] = [];
  const from = (rule.from ?? []).map((f) => all(compileSource(f?.source ?? {}, mode, policyNamespace)));
  if (from.length > 0) parts.push((r) => from.some((f) => f(r)));
  const to = (rule.to ?? []).map((t) => all(compileOperation(t?.operation ?? {}, mode)));
  if (to.length > 0) parts.push((r) => to.some((t) => t(r)));
  for (const condition of rule.when ?? []) if (condition) parts.push(...compileCondition(condition, mode, policyNamespace));
  if (mode.httpOnly && action === 'ALLOW') return never;
  return all(parts);
}

/** The request a TCP connection presents to a compiled rule: its HTTP-only attributes were dropped at compile time. */
function connectionRequest(connection: AuthorizationConnection): AuthorizationRequest {
  return { principal: connection.principal, port: connection.port, method: '', path: '', host: '', header: () => undefined };
}

function selectorEntries(selector: WorkloadSelector | undefined): ReadonlyArray<[string, string]> | null {
  const entries = Object.entries(selector?.matchLabels ?? {}).map(([k, v]) => [k, String(v)] as [string, string]);
  return entries.length > 0 ? entries : null;
}

/** Istio: a policy in the root namespace applies mesh-wide, otherwise to its own namespace; a selector narrows it. */
function applies(policyNamespace: string, selector: ReadonlyArray<[string, string]> | null, target: PolicyTarget): boolean {
  if (policyNamespace !== ROOT_NAMESPACE && policyNamespace !== target.namespace) return false;
  return selector === null || selector.every(([k, v]) => target.labels[k] === v);
}

/** The label Istio's Gateway API deployments carry; only such gateway pods take targetRef-attached policies. */
const GATEWAY_NAME_LABEL = 'gateway.networking.k8s.io/gateway-name';

/**
 * Which workloads an AuthorizationPolicy attaches to (pilot/pkg/model/policyattachment.go ShouldAttachPolicy, without
 * waypoints): a sidecar or a classic gateway ignores a policy with `targetRef(s)` and uses the selector; a Gateway API
 * gateway pod uses the selector when there is no targetRef (ENABLE_SELECTOR_BASED_K8S_GATEWAY_POLICY, on by default),
 * else a targetRef of kind Gateway (gateway.networking.k8s.io) naming it, from the policy's own namespace.
 */
function attaches(policy: CompiledPolicy, target: PolicyTarget): boolean {
  const gatewayName = target.labels[GATEWAY_NAME_LABEL];
  if (gatewayName === undefined || policy.targetRefs === null) return policy.targetRefs === null && applies(policy.namespace, policy.selector, target);
  if (policy.namespace !== target.namespace) return false;
  return policy.targetRefs.some(
    (ref) =>
      ref.group === 'gateway.networking.k8s.io' && ref.kind === 'Gateway' && ref.name === gatewayName && (!ref.namespace || ref.namespace === target.namespace),
  );
}

interface CompiledPeerAuthentication {
  namespace: string;
  selector: ReadonlyArray<[string, string]> | null;
  mode: MutualTlsMode;
  ports: Map<number, MutualTlsMode>;
}

const MODES = new Set<MutualTlsMode>(['UNSET', 'DISABLE', 'PERMISSIVE', 'STRICT']);
function modeOf(value: unknown): MutualTlsMode {
  return typeof value === 'string' && MODES.has(value as MutualTlsMode) ? (value as MutualTlsMode) : 'UNSET';
}

/**
 * CUSTOM first, then the DENY filter, then the ALLOW filter (an ALLOW policy that selects the workload denies what
 * none of its rules match). Each filter evaluates its shadow rules (dry-run policies of its action) before its own
 * rules (Envoy rbac_filter.cc decodeHeaders), so a request denied by the DENY filter never reaches the ALLOW
 * filter's shadow rules.
 */
function decide(set: WorkloadPolicies, matches: (rule: CompiledRule) => boolean): AuthorizationDecision {
  for (const rule of set.custom) if (matches(rule)) return { allowed: false, policy: rule.id };
  let shadow: RbacShadowResult[] | undefined;
  if (set.shadowDeny) {
    const hit = set.shadowDeny.find(matches);
    (shadow ??= []).push({ statPrefix: DRY_RUN_DENY_PREFIX, result: hit ? 'denied' : 'allowed', policy: hit?.id });
  }
  const denied = set.deny.find(matches);
  if (denied) return { allowed: false, policy: denied.id, shadow };
  if (set.shadowAllow) {
    const hit = set.shadowAllow.find(matches);
    (shadow ??= []).push({ statPrefix: DRY_RUN_ALLOW_PREFIX, result: hit ? 'allowed' : 'denied', policy: hit?.id });
  }
  if (!set.hasAllow || set.allow.some(matches)) return { allowed: true, shadow };
  return { allowed: false, policy: 'none', shadow };
}

export function compileAuthorization(
  authorizationPolicies: readonly LoadedObject<AuthorizationPolicy>[],
  peerAuthentications: readonly LoadedObject<PeerAuthentication>[],
  defaultNamespace: string,
): Authorizer {
  const policies: CompiledPolicy[] = [];
  for (const { object } of authorizationPolicies) {
    if (!object?.metadata?.name) continue;
    const spec = object.spec ?? {};
    const namespace = object.metadata.namespace ?? defaultNamespace;
    const action = spec.action ?? 'ALLOW';
    const base = `ns[${namespace}]-policy[${object.metadata.name}]`;
    const rules = (spec.rules ?? []).map((rule, index) => ({
      // The names istiod gives the RBAC policies, which Envoy reports in its response code details; a CUSTOM
      // policy whose provider the mesh config does not define becomes a DENY named like this.
      id: action === 'CUSTOM' ? `istio-ext-authz-${base}-rule[${index}]-deny-due-to-bad-CUSTOM-action` : `${base}-rule[${index}]`,
      matches: compileRule(rule ?? {}, action, namespace),
      matchesConnection: compileRule(rule ?? {}, action, namespace, true),
    }));
    const targetRefs = spec.targetRefs?.length ? spec.targetRefs : spec.targetRef ? [spec.targetRef] : null;
    policies.push({ namespace, selector: selectorEntries(spec.selector), targetRefs, action, dryRun: isDryRun(object.metadata.annotations), rules });
  }

  const peers: CompiledPeerAuthentication[] = [];
  for (const { object } of peerAuthentications) {
    if (!object?.metadata?.name) continue;
    const ports = new Map<number, MutualTlsMode>();
    for (const [port, setting] of Object.entries(object.spec?.portLevelMtls ?? {})) ports.set(Number(port), modeOf(setting?.mode));
    peers.push({
      namespace: object.metadata.namespace ?? defaultNamespace,
      selector: selectorEntries(object.spec?.selector),
      mode: modeOf(object.spec?.mtls?.mode),
      ports,
    });
  }

  // Policies per workload depend only on its namespace and labels: compiled once per target object.
  const perTarget = new WeakMap<PolicyTarget, WorkloadPolicies>();
  const policiesFor = (target: PolicyTarget): WorkloadPolicies => {
    let set = perTarget.get(target);
    if (!set) {
      set = { custom: [], deny: [], allow: [], hasAllow: false };
      for (const policy of policies) {
        if (!attaches(policy, target)) continue;
        // A dry-run CUSTOM policy goes to its provider's shadow rules, which an unknown provider never gets
        // (builder.go buildHTTP: the bad-provider deny covers enforced policies only): it has no effect here.
        if (policy.dryRun && policy.action === 'DENY') (set.shadowDeny ??= []).push(...policy.rules);
        else if (policy.dryRun && policy.action === 'ALLOW') (set.shadowAllow ??= []).push(...policy.rules);
        else if (policy.dryRun) continue;
        else if (policy.action === 'CUSTOM') set.custom.push(...policy.rules);
        else if (policy.action === 'DENY') set.deny.push(...policy.rules);
        else if (policy.action === 'ALLOW') {
          set.hasAllow = true;
          set.allow.push(...policy.rules);
        }
        // AUDIT only marks requests for an audit provider; it never changes the decision.
      }
      for (const rules of [set.custom, set.deny, set.allow, set.shadowDeny, set.shadowAllow]) rules?.sort(byPolicyName);
      perTarget.set(target, set);
    }
    return set;
  };

  return {
    enforces(target) {
      const set = policiesFor(target);
      return set.hasAllow || set.deny.length > 0 || set.custom.length > 0 || set.shadowDeny !== undefined || set.shadowAllow !== undefined;
    },
    check(target, request) {
      return decide(policiesFor(target), (rule) => rule.matches(request));
    },
    checkConnection(target, connection) {
      const request = connectionRequest(connection);
      return decide(policiesFor(target), (rule) => rule.matchesConnection(request));
    },
    mtlsMode(target, port) {
      // The most specific PeerAuthentication wins; UNSET inherits from the next level up.
      const workload = peers.find((p) => p.selector !== null && p.namespace === target.namespace && applies(p.namespace, p.selector, target));
      const namespace = peers.find((p) => p.selector === null && p.namespace === target.namespace);
      const mesh = peers.find((p) => p.selector === null && p.namespace === ROOT_NAMESPACE);
      const portMode = workload?.ports.get(port);
      for (const mode of [portMode, workload?.mode, namespace?.mode, mesh?.mode]) if (mode && mode !== 'UNSET') return mode;
      return 'PERMISSIVE';
    },
  };
}
