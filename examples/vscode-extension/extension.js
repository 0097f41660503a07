// A VS Code extension with one command: export the open workspace folder as an OCI image. The
// logic lives in export-workspace.js, which takes the editor API as a parameter so that a Node
// test can run it without VS Code.
const vscode = require('vscode');
const { exportWorkspace } = require('./export-workspace');

function activate(context) {
  context.subscriptions.push(vscode.commands.registerCommand('outport.exportWorkspace', () => exportWorkspace(vscode)));
}

module.exports = { activate, deactivate() {} };
