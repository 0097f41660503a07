// The command's logic: export the first workspace folder to the configured output, with the
// editor's cancellable progress notification driving an AbortSignal. `vscode` is the editor API;
// `outport` defaults to the package (in your extension: require('outport')).
const fs = require('node:fs');
const path = require('node:path');

const outportPackage = () => require('../../npm');

async function exportWorkspace(vscode, outport = outportPackage()) {
  const folder = vscode.workspace.workspaceFolders?.[0];
  if (!folder) {
    vscode.window.showErrorMessage('outport: open a folder first');
    return undefined;
  }
  const root = folder.uri.fsPath;
  const settings = vscode.workspace.getConfiguration('outport');
  const output = settings.get('output').replaceAll('${workspaceFolder}', root);
  const exclude = ['.outport', ...settings.get('exclude')];
  // The default output's folder (outputs are not written into folders that do not exist).
  fs.mkdirSync(path.join(root, '.outport'), { recursive: true });
  const task = { location: vscode.ProgressLocation.Notification, title: 'outport', cancellable: true };
  try {
    return await vscode.window.withProgress(task, async (progress, token) => {
      const controller = new AbortController();
      token.onCancellationRequested(() => controller.abort(new Error('cancelled')));
      const metadata = await outport.exportImage({
        rootfs: root,
        outputs: [output],
        exclude,
        signal: controller.signal,
        onWarning: (message) => vscode.window.showWarningMessage(`outport: ${message}`),
        onProgress: ({ phase, current, total }) => {
          const share = total > 1 ? ` ${Math.floor((100 * current) / total)}%` : '';
          progress.report({ message: `${phase}${share}` });
        },
      });
      vscode.window.showInformationMessage(`outport: exported ${metadata['containerimage.digest']}`);
      return metadata;
    });
  } catch (err) {
    vscode.window.showErrorMessage(`outport: ${err.message}`);
    return undefined;
  }
}

module.exports = { exportWorkspace };
