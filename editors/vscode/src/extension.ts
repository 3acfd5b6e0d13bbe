/**
 * Shutka for VS Code: starts `shutka lsp` over stdio with vscode-languageclient and wires its
 * features into the editor.
 *
 * - Completions come as ordinary suggestion items; ghost text comes from the server's
 *   `textDocument/inlineCompletion` (LSP 3.18), which vscode-languageclient 10 registers as an
 *   inline completion provider; the middleware below turns it on and off with a setting.
 * - Every item carries the server command `shutka.completionAccepted`; the client registered it
 *   from the server's `executeCommandProvider`, so accepting an item tells the server, and the
 *   Titans memory learns the line.
 * - The palette commands below wrap the server's `workspace/executeCommand` commands with prompts.
 */

import * as vscode from "vscode";
import {
  ExecuteCommandRequest,
  LanguageClient,
  LanguageClientOptions,
  ServerOptions,
  State,
  TransportKind,
} from "vscode-languageclient/node";

const SECTION = "shutka";
let client: LanguageClient | undefined;
let statusItem: vscode.StatusBarItem | undefined;
let output: vscode.LogOutputChannel | undefined;

/** The server's `initializationOptions` (the `[lsp]` section, camelCase) from the settings. */
function initializationOptions(config: vscode.WorkspaceConfiguration): Record<string, unknown> {
  const options: Record<string, unknown> = {
    checkpoint: config.get<string | null>("checkpoint") || undefined,
    threshold: config.get<number | null>("completion.threshold") ?? undefined,
    maxItems: config.get<number | null>("completion.maxItems") ?? undefined,
    fillInMiddle: config.get<boolean | null>("completion.fillInMiddle") ?? undefined,
    inlineCompletion: config.get<boolean>("inlineCompletion.enabled", true),
    debounceMs: config.get<number>("debounceMs", 150),
    watch: config.get<boolean>("watch", true),
    logFile: config.get<string | null>("logFile") || undefined,
    ...config.get<Record<string, unknown>>("options", {}),
  };
  for (const key of Object.keys(options)) {
    if (options[key] === undefined) {
      delete options[key];
    }
  }
  return options;
}

function createClient(context: vscode.ExtensionContext): LanguageClient {
  const config = vscode.workspace.getConfiguration(SECTION);
  const command = config.get<string>("server.command", "shutka");
  const args = config.get<string[]>("server.args", ["lsp"]);
  const env = { ...process.env, ...config.get<Record<string, string>>("server.env", {}) };
  const serverOptions: ServerOptions = {
    run: { command, args, transport: TransportKind.stdio, options: { env } },
    debug: { command, args: [...args, "-v"], transport: TransportKind.stdio, options: { env } },
  };
  output = output ?? vscode.window.createOutputChannel("Shutka", { log: true });
  const clientOptions: LanguageClientOptions = {
    documentSelector: [
      { scheme: "file", language: "typescript" },
      { scheme: "file", language: "typescriptreact" },
      { scheme: "untitled", language: "typescript" },
      { scheme: "untitled", language: "typescriptreact" },
    ],
    initializationOptions: initializationOptions(config),
    outputChannel: output,
    middleware: {
      provideInlineCompletionItems: (document, position, ctx, token, next) =>
        vscode.workspace.getConfiguration(SECTION).get<boolean>("inlineCompletion.enabled", true)
          ? next(document, position, ctx, token)
          : undefined,
    },
  };
  const created = new LanguageClient("shutka", "Shutka", serverOptions, clientOptions);
  context.subscriptions.push(
    created.onDidChangeState((event) => {
      if (statusItem) {
        statusItem.text = event.newState === State.Running ? "$(sparkle) Shutka" : "$(circle-slash) Shutka";
        statusItem.tooltip = event.newState === State.Running ? "Shutka is running: click for its status" : "Shutka is stopped";
      }
    }),
  );
  return created;
}

/** Run a server command (`workspace/executeCommand`) and return its JSON result. */
async function serverCommand<T>(command: string, ...args: unknown[]): Promise<T> {
  if (!client || !client.isRunning()) {
    throw new Error("the Shutka language server is not running");
  }
  return (await client.sendRequest(ExecuteCommandRequest.type, { command, arguments: args })) as T;
}

function show(title: string, value: unknown): void {
  output?.info(`${title}\n${JSON.stringify(value, null, 2)}`);
  output?.show(true);
}

async function guarded(action: () => Promise<void>): Promise<void> {
  try {
    await action();
  } catch (error) {
    vscode.window.showErrorMessage(`Shutka: ${error instanceof Error ? error.message : String(error)}`);
  }
}

function registerCommands(context: vscode.ExtensionContext): void {
  const register = (id: string, action: () => Promise<void>) =>
    context.subscriptions.push(vscode.commands.registerCommand(id, () => guarded(action)));

  register("shutka.showStatus", async () => show("Shutka status", await serverCommand("shutka.status")));
  register("shutka.showBankStats", async () => show("Memory bank", await serverCommand("shutka.bank.stats")));
  register("shutka.reindexWorkspace", async () => {
    const report = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: "Shutka: re-indexing the workspace" },
      () => serverCommand<{ added: number; removed: number; latency_ms: number }>("shutka.reindex"),
    );
    vscode.window.showInformationMessage(
      `Shutka: ${report.added} file(s) updated, ${report.removed} removed in ${Math.round(report.latency_ms)} ms.`,
    );
  });
  register("shutka.saveTitans", async () => {
    const saved = await serverCommand<{ path: string }>("shutka.titans.save");
    vscode.window.showInformationMessage(`Shutka: Titans memory saved to ${saved.path}`);
  });
  register("shutka.loadTitans", async () => {
    // The server loads only files inside the workspace's .shutka/titans/ (where saves go): start there.
    const folder = vscode.workspace.workspaceFolders?.[0]?.uri;
    const picked = await vscode.window.showOpenDialog({
      canSelectMany: false,
      defaultUri: folder ? vscode.Uri.joinPath(folder, ".shutka", "titans") : undefined,
      filters: { "Titans memory": ["pt"] },
      openLabel: "Load Titans memory",
    });
    if (!picked || picked.length === 0) {
      return;
    }
    const loaded = await serverCommand<{ episodes: number }>("shutka.titans.load", picked[0].fsPath);
    vscode.window.showInformationMessage(`Shutka: Titans memory loaded (${loaded.episodes} episodes).`);
  });
  register("shutka.forgetTitans", async () => {
    const answer = await vscode.window.showInputBox({
      prompt: "How many of the least-accessed Titans episodes should Shutka forget?",
      value: "100",
      validateInput: (text) => (/^\d+$/.test(text) ? undefined : "a whole number, 0 or more"),
    });
    if (answer === undefined) {
      return;
    }
    const result = await serverCommand<{ forgotten: number; episodes: number }>("shutka.titans.forget", Number(answer));
    vscode.window.showInformationMessage(`Shutka: forgot ${result.forgotten} episode(s); ${result.episodes} left.`);
  });
  register("shutka.restartServer", async () => {
    if (client) {
      await client.restart();
    }
  });
}

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  statusItem = vscode.window.createStatusBarItem(vscode.StatusBarAlignment.Right, 100);
  statusItem.text = "$(loading~spin) Shutka";
  statusItem.command = "shutka.showStatus";
  statusItem.show();
  context.subscriptions.push(statusItem);
  registerCommands(context);
  context.subscriptions.push(
    vscode.workspace.onDidChangeConfiguration(async (event) => {
      if (event.affectsConfiguration(SECTION) && client) {
        await client.stop();
        client = createClient(context);
        await client.start();
      }
    }),
  );
  client = createClient(context);
  try {
    await client.start();
  } catch (error) {
    vscode.window.showErrorMessage(
      `Shutka: cannot start the language server (${error instanceof Error ? error.message : String(error)}). ` +
        "Check the setting shutka.server.command.",
    );
  }
}

export async function deactivate(): Promise<void> {
  if (client) {
    await client.stop();
    client = undefined;
  }
}
