/**
 * The `@azure/functions-core` module that the Azure Functions Node worker provides at run time.
 *
 * `@azure/functions` v4 registers every `app.http/eventGrid/timer(...)` call through
 * `require('@azure/functions-core')`; without it the package falls back to "test mode" and
 * registers nothing. This module answers that `require` with an object implementing the same
 * surface, so the local host sees exactly the functions the app registers — no second list.
 * Shapes follow node_modules/@azure/functions/src (InvocationModel.ts, converters/*).
 */
import Module from 'node:module';

export const CORE_MODULE_NAME = '@azure/functions-core';

/** The worker's RPC typed data: one of these fields is set. */
export interface RpcTypedData {
  string?: string | null;
  json?: string | null;
  bytes?: Uint8Array | null;
  stream?: Uint8Array | null;
  http?: RpcHttpData | null;
  int?: number | null;
  double?: number | null;
}

export interface RpcNullable<T> {
  value?: T | null;
}

export interface RpcHttpCookie {
  name?: string | null;
  value?: string | null;
  domain?: RpcNullable<string> | null;
  path?: RpcNullable<string> | null;
  expires?: RpcNullable<{ seconds?: number | null }> | null;
  secure?: RpcNullable<boolean> | null;
  httpOnly?: RpcNullable<boolean> | null;
  sameSite?: 'none' | 'lax' | 'strict' | 'explicitNone' | null;
  maxAge?: RpcNullable<number> | null;
}

export interface RpcHttpData {
  method?: string | null;
  url?: string | null;
  headers?: Record<string, string> | null;
  query?: Record<string, string> | null;
  params?: Record<string, string> | null;
  body?: RpcTypedData | null;
  statusCode?: string | null;
  cookies?: RpcHttpCookie[] | null;
}

/** One binding of a function, as `toCoreFunctionMetadata` builds it. */
export interface RpcBindingInfo {
  type?: string | null;
  direction?: 'in' | 'out' | 'inout' | null;
  [option: string]: unknown;
}

export interface FunctionMetadata {
  name: string;
  bindings: Record<string, RpcBindingInfo>;
  retryOptions?: unknown;
}

export type FunctionCallback = (...args: unknown[]) => unknown;
export type HookCallback = (context: Record<string, unknown>) => unknown;
export type LogLevel = 'trace' | 'debug' | 'information' | 'warning' | 'error' | 'critical' | 'none';
export type LogCategory = 'user' | 'system' | 'customMetric';

export interface RpcInvocationResponse {
  invocationId?: string;
  outputData?: { name?: string; data?: RpcTypedData | null }[];
  returnValue?: RpcTypedData | null;
}

/** What the worker hands the programming model for one invocation. */
export interface CoreInvocationContext {
  invocationId: string;
  request: {
    invocationId: string;
    functionId: string;
    inputData: { name: string; data: RpcTypedData }[];
    triggerMetadata: Record<string, RpcTypedData>;
  };
  metadata: FunctionMetadata;
  state?: 'preInvocationHooks' | 'postInvocationHooks' | 'invocation';
  log(level: LogLevel, category: LogCategory, message: string): void;
}

export interface InvocationModel {
  getArguments(): Promise<{ context: unknown; inputs: unknown[] }>;
  invokeFunction(context: unknown, inputs: unknown[], handler: FunctionCallback): Promise<unknown>;
  getResponse(context: unknown, result: unknown): Promise<RpcInvocationResponse>;
}

export interface ProgrammingModel {
  name: string;
  version: string;
  getInvocationModel(coreCtx: CoreInvocationContext): InvocationModel;
  getCapabilities?(capabilities: Record<string, string>): Promise<Record<string, string>>;
}

/** A function as the app registered it. */
export interface RegisteredFunction {
  readonly name: string;
  readonly metadata: FunctionMetadata;
  readonly callback: FunctionCallback;
  /** The binding name and info of the trigger (the one binding whose type ends in "Trigger"). */
  readonly triggerName: string;
  readonly trigger: RpcBindingInfo & { type: string };
}

/** Everything the app told the core module: functions, programming model, hooks. */
export interface CoreRegistry {
  readonly functions: RegisteredFunction[];
  readonly hooks: Map<string, HookCallback[]>;
  readonly appHookData: Record<string, unknown>;
  programmingModel?: ProgrammingModel;
}

type Load = (request: string, parent: unknown, isMain: boolean) => unknown;
type Resolve = (request: string, ...rest: unknown[]) => string;
interface ModuleInternals {
  _load: Load;
  _resolveFilename: Resolve;
}

let activeCore: object | undefined;
let installed = false;

/**
 * Makes `require('@azure/functions-core')` answer a fresh core object and returns the registry
 * it fills. One host per process: a later call replaces the earlier core.
 */
export function installFunctionsCore(systemLog: (level: LogLevel, category: LogCategory, message: string) => void): CoreRegistry {
  const registry: CoreRegistry = { functions: [], hooks: new Map(), appHookData: {} };
  activeCore = {
    registerFunction(metadata: FunctionMetadata, callback: FunctionCallback) {
      const entry = Object.entries(metadata.bindings).find(([, b]) => /trigger$/i.test(b.type ?? ''));
      if (!entry) throw new Error(`Function "${metadata.name}" has no trigger binding.`);
      if (registry.functions.some((f) => f.name.toLowerCase() === metadata.name.toLowerCase())) {
        throw new Error(`A function named "${metadata.name}" is already registered.`);
      }
      const [triggerName, trigger] = entry;
      registry.functions.push({
        name: metadata.name,
        metadata,
        callback,
        triggerName,
        trigger: trigger as RpcBindingInfo & { type: string },
      });
      return { dispose: () => undefined };
    },
    setProgrammingModel(model: ProgrammingModel) {
      registry.programmingModel = model;
    },
    getProgrammingModel() {
      return registry.programmingModel;
    },
    registerHook(hookName: string, callback: HookCallback) {
      const list = registry.hooks.get(hookName) ?? [];
      list.push(callback);
      registry.hooks.set(hookName, list);
      return {
        dispose: () => {
          const at = list.indexOf(callback);
          if (at >= 0) list.splice(at, 1);
        },
      };
    },
    log: systemLog,
    app: {},
  };
  if (!installed) {
    const internals = Module as unknown as ModuleInternals;
    const originalLoad = internals._load;
    const originalResolve = internals._resolveFilename;
    internals._resolveFilename = function (this: unknown, request: string, ...rest: unknown[]) {
      if (request === CORE_MODULE_NAME && activeCore) return CORE_MODULE_NAME;
      return originalResolve.call(this, request, ...rest);
    };
    internals._load = function (this: unknown, request: string, parent: unknown, isMain: boolean) {
      if (request === CORE_MODULE_NAME && activeCore) return activeCore;
      return originalLoad.call(this, request, parent, isMain);
    };
    installed = true;
  }
  return registry;
}
