// Parses PowerShell files with the tree-sitter PowerShell grammar (its WASM
// build, run by web-tree-sitter: no native addon, nothing compiled here).
//
//   node ps1_parse.mjs FILE...
//
// For each FILE prints "parsed FILE" when the tree has no ERROR or MISSING
// node, else one "syntax FILE:LINE:COL ERROR|MISSING TYPE" line per such
// node (first 20).  Then, for all files together, the names the scripts call,
// one per line, sorted and unique:
//
//   command NAME      a command (cmdlet, function, program) called by name
//   method NAME       a .NAME(...) or ::NAME(...) method call
//   dynamic TEXT      a command called through & or . (name not fixed)
//
// Exit status: 0 when every file parsed, 1 when one did not, 2 when the
// grammar failed its self-test (it must reject a broken snippet, or a pass
// would mean nothing).  A leading UTF-8 BOM is removed before parsing, as
// PowerShell does.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Parser, Language } from 'web-tree-sitter';

const require = createRequire(import.meta.url);

await Parser.init();
const lang = await Language.load(
    require.resolve('tree-sitter-powershell/tree-sitter-powershell.wasm'));
const parser = new Parser();
parser.setLanguage(lang);

function problems(tree) {
	const out = [];
	const walk = (n) => {
		if (n.isError || n.isMissing)
			out.push(n);
		for (const c of n.children)
			walk(c);
	};
	walk(tree.rootNode);
	return out;
}

if (problems(parser.parse('if ($a { "x"\nfunction f( {\n')).length === 0) {
	console.log('selftest: the grammar accepted a broken snippet');
	process.exit(2);
}

const names = new Set();
function census(n) {
	if (n.type === 'command') {
		const name = n.childForFieldName('command_name');
		const dyn = n.children.some((c) => c.type === 'command_invokation_operator');
		if (name !== null)
			names.add(`${dyn ? 'dynamic' : 'command'} ${name.text}`);
	} else if (n.type === 'invokation_expression') {
		for (const c of n.children)
			if (c.type === 'member_name')
				names.add(`method ${c.text}`);
	}
	for (const c of n.children)
		census(c);
}

let bad = 0;
for (const file of process.argv.slice(2)) {
	let text = readFileSync(file, 'utf8');
	if (text.charCodeAt(0) === 0xfeff)
		text = text.slice(1);
	const tree = parser.parse(text);
	const p = problems(tree);
	if (p.length === 0) {
		console.log(`parsed ${file}`);
	} else {
		bad = 1;
		for (const n of p.slice(0, 20))
			console.log(`syntax ${file}:${n.startPosition.row + 1}:` +
			    `${n.startPosition.column + 1} ` +
			    `${n.isMissing ? 'MISSING' : 'ERROR'} ${n.type}`);
	}
	census(tree.rootNode);
	tree.delete();
}
for (const n of [...names].sort())
	console.log(n);
process.exit(bad);
