/**
 * cfn-lint over Citadel's synthesized templates: the CloudFormation resource schemas and intrinsic-function
 * rules that `cdk synth` and cdk-nag do not check (for example `Fn::GetStackOutput` inside `Fn::Split`, or a
 * property the resource type does not have). Configuration, with the reason for every ignored rule, is
 * `.cfnlintrc.yaml` at the repository root.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
export const ROOT = path.resolve(import.meta.dirname, '..');

export interface CfnLintFinding {
  readonly rule: string;
  readonly level: 'Error' | 'Warning' | 'Informational';
  readonly message: string;
  readonly file: string;
  readonly line: number;
}

/** How to install cfn-lint when it is missing. */
export const INSTALL_HINT = 'install it with `pip install cfn-lint` (CI uses cfn-lint 1.51)';

/** The installed cfn-lint's version, or undefined when it is not on PATH. */
export async function cfnLintVersion(): Promise<string | undefined> {
  try {
    const { stdout } = await run('cfn-lint', ['--version']);
    return stdout.trim();
  } catch {
    return undefined;
  }
}

/** Writes `templates` (by stack name) as `<dir>/<stack>.template.json` and returns the paths. */
export function writeTemplates(dir: string, templates: Readonly<Record<string, unknown>>): string[] {
  mkdirSync(dir, { recursive: true });
  return Object.entries(templates).map(([stack, template]) => {
    const file = path.join(dir, `${stack}.template.json`);
    writeFileSync(file, JSON.stringify(template, null, 1));
    return file;
  });
}

/** Runs cfn-lint with the repository's configuration over `files`; every finding, errors and warnings. */
export async function cfnLint(files: readonly string[]): Promise<CfnLintFinding[]> {
  let stdout: string;
  try {
    ({ stdout } = await run('cfn-lint', ['--format', 'json', ...files], {
      cwd: ROOT,
      maxBuffer: 64 * 1024 * 1024,
    }));
  } catch (error) {
    // cfn-lint exits non-zero when it finds something; its JSON is still on stdout.
    const out = (error as { stdout?: string }).stdout;
    if (out === undefined || out.trim() === '') throw error;
    stdout = out;
  }
  const raw = JSON.parse(stdout || '[]') as Array<{
    Rule: { Id: string };
    Level: CfnLintFinding['level'];
    Message: string;
    Filename: string;
    Location: { Start: { LineNumber: number } };
  }>;
  return raw.map((f) => ({
    rule: f.Rule.Id,
    level: f.Level,
    message: f.Message,
    file: path.relative(ROOT, f.Filename),
    line: f.Location.Start.LineNumber,
  }));
}
