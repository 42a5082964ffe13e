// The Go-template subset of notification payloads: rendering, spacing and
// trim markers, and clear errors for what it does not render.
import t from 'tap';
import { parseTemplate, renderTemplate, templateProblem, templateVariables, type TemplateValues } from '../../../../server/dispatch/notify/template.js';

const values = Object.fromEntries(templateVariables.map((v) => [v, `<${v}>`])) as unknown as TemplateValues;
const render = (source: string) => renderTemplate(parseTemplate(source), values);

t.test('variables, with and without spaces, between text', async (t) => {
  t.equal(render('job {{.JobName}} ok={{.Success}}'), 'job <JobName> ok=<Success>');
  t.equal(render('{{ .NodeName }}|{{.ReportingNode }}|{{  .Output}}'), '<NodeName>|<ReportingNode>|<Output>');
  t.equal(render('no actions at all'), 'no actions at all');
  t.equal(render(''), '');
  t.equal(render('{{.Report}}{{.StartTime}}{{.FinishedAt}}'), '<Report><StartTime><FinishedAt>');
  t.equal(render('a } b { c'), 'a } b { c', 'single braces are text');
});

t.test('trim markers drop the white space beside the action, as in Go', async (t) => {
  t.equal(render('a  \n {{- .JobName -}} \n  b'), 'a<JobName>b');
  t.equal(render('a {{- .JobName}} b'), 'a<JobName> b');
  t.equal(render('a {{.JobName -}} b'), 'a <JobName>b');
});

t.test('every Dkron variable is known', async (t) => {
  for (const v of ['Report', 'JobName', 'ReportingNode', 'StartTime', 'FinishedAt', 'Success', 'NodeName', 'Output']) {
    t.equal(templateProblem(`{{.${v}}}`), null, v);
  }
});

t.test('anything else is an error naming the problem', async (t) => {
  t.match(templateProblem('{{.Job}}'), /unknown variable \.Job \(known: \.Report .*\.JobName/);
  t.match(templateProblem('{{.jobname}}'), /unknown variable \.jobname/, 'names are case-sensitive, as in Go');
  t.match(templateProblem('{{if .Success}}ok{{end}}'), /only \{\{\.Variable\}\} is supported/);
  t.match(templateProblem('{{.JobName | printf "%s"}}'), /only \{\{\.Variable\}\} is supported/);
  t.match(templateProblem('{{/* a comment */}}'), /only/);
  t.match(templateProblem('{{.JobName}} and {{ oops'), /unclosed action "\{\{" at character 18/);
  t.match(templateProblem('{{-.JobName}}'), /only/, 'Go needs a space after the trim marker');
  t.equal(templateProblem('plain'), null);
});
