/**
 * Runs one invocation the way the Functions Node worker does: through the app's own
 * programming model (`getInvocationModel → getArguments → invokeFunction → getResponse`),
 * with the preInvocation/postInvocation hooks around the handler.
 */
import { randomUUID } from 'node:crypto';
import type {
  CoreInvocationContext,
  CoreRegistry,
  LogCategory,
  LogLevel,
  RegisteredFunction,
  RpcInvocationResponse,
  RpcTypedData,
} from './functionsCore.js';

export interface InvocationInput {
  /** The trigger's payload in RPC form (`{ http }`, `{ string }`, `{ json }` …). */
  readonly triggerData: RpcTypedData;
  readonly triggerMetadata?: Record<string, RpcTypedData>;
}

/** Where invocation logs go: one call per line the function (or the library) writes. */
export type InvocationLogSink = (line: {
  level: LogLevel;
  category: LogCategory;
  functionName: string;
  invocationId: string;
  message: string;
}) => void;

/** Invokes `fn` once; resolves to the worker's invocation response, rejects with the handler's error. */
export async function invokeRegisteredFunction(
  registry: CoreRegistry,
  fn: RegisteredFunction,
  input: InvocationInput,
  logSink: InvocationLogSink,
): Promise<RpcInvocationResponse> {
  const model = registry.programmingModel;
  if (!model) throw new Error('The app registered functions without setting a programming model.');
  const invocationId = randomUUID();
  const coreCtx: CoreInvocationContext = {
    invocationId,
    request: {
      invocationId,
      functionId: fn.name,
      inputData: [{ name: fn.triggerName, data: input.triggerData }],
      triggerMetadata: input.triggerMetadata ?? {},
    },
    metadata: fn.metadata,
    state: undefined,
    log: (level, category, message) => logSink({ level, category, functionName: fn.name, invocationId, message }),
  };
  const invocation = model.getInvocationModel(coreCtx);
  const { context, inputs } = await invocation.getArguments();

  const hookData: Record<string, unknown> = {};
  const pre: Record<string, unknown> = {
    hookData,
    appHookData: registry.appHookData,
    invocationContext: context,
    functionCallback: fn.callback,
    inputs,
  };
  coreCtx.state = 'preInvocationHooks';
  await runHooks(registry, 'preInvocation', pre);

  coreCtx.state = 'invocation';
  let result: unknown;
  let error: unknown;
  try {
    result = await invocation.invokeFunction(
      context,
      pre['inputs'] as unknown[],
      pre['functionCallback'] as RegisteredFunction['callback'],
    );
  } catch (err) {
    error = err;
  }

  const post: Record<string, unknown> = {
    hookData,
    appHookData: registry.appHookData,
    invocationContext: context,
    inputs: pre['inputs'],
    result,
    error,
  };
  coreCtx.state = 'postInvocationHooks';
  await runHooks(registry, 'postInvocation', post);
  coreCtx.state = undefined;
  if (post['error'] !== undefined && post['error'] !== null) throw post['error'];
  return invocation.getResponse(context, post['result']);
}

/** Runs every hook registered under `hookName`, in registration order. */
export async function runHooks(registry: CoreRegistry, hookName: string, context: Record<string, unknown>): Promise<void> {
  for (const hook of [...(registry.hooks.get(hookName) ?? [])]) await hook(context);
}
